import { isIP } from 'node:net';

/**
 * Pure IP and CIDR arithmetic for the SSRF guard. Addresses are held as bigints so one code path
 * serves IPv4 (32 bits) and IPv6 (128 bits), and IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are
 * folded into IPv4 before any rule is applied: the kernel connects ::ffff:10.0.0.1 to 10.0.0.1,
 * so the guard must judge it as 10.0.0.1 (and an operator's `127.0.0.0/8` must allow it too).
 */

export interface IpAddress {
  version: 4 | 6;
  value: bigint;
}

export interface Cidr {
  version: 4 | 6;
  /** The network address, with host bits cleared. */
  value: bigint;
  prefix: number;
}

const bitsOf = (version: 4 | 6) => (version === 4 ? 32 : 128);
const MAPPED_PREFIX = 0xffffn; // ::ffff:0:0/96, the upper 96 bits of a mapped address

function parseIPv4(text: string): bigint {
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number.parseInt(part, 10)), 0n);
}

function parseIPv6(text: string): bigint {
  let head = text;
  let tail: number[] = [];
  // An embedded dotted quad (::ffff:1.2.3.4, ::1.2.3.4) stands for the last two groups.
  const lastColon = head.lastIndexOf(':');
  const last = head.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = parseIPv4(last);
    tail = [Number(v4 >> 16n), Number(v4 & 0xffffn)];
    head = head.slice(0, lastColon + 1);
    // Keep "::" intact when the quad followed it directly; otherwise drop the dangling colon.
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const toGroups = (s: string) => (s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16)));
  let groups: number[];
  const gap = head.indexOf('::');
  if (gap === -1) {
    groups = [...toGroups(head), ...tail];
  } else {
    const left = toGroups(head.slice(0, gap));
    const right = [...toGroups(head.slice(gap + 2)), ...tail];
    groups = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  }
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

/**
 * Parses an IPv4 or IPv6 address (a zone suffix such as `%eth0` is ignored; brackets are accepted).
 * Returns null for anything else, including hostnames. IPv4-mapped IPv6 comes back as IPv4.
 */
export function parseIp(input: string): IpAddress | null {
  const text = input.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  const version = isIP(text);
  if (version === 4) return { version: 4, value: parseIPv4(text) };
  if (version !== 6) return null;
  const value = parseIPv6(text);
  if (value >> 32n === MAPPED_PREFIX) return { version: 4, value: value & 0xffffffffn };
  return { version: 6, value };
}

/**
 * Parses `a.b.c.d/n` or `x:y::/n`; a bare address means a single host. A mapped IPv6 range at /96
 * or longer becomes the IPv4 range it denotes, so it matches the folded addresses. Throws on junk:
 * a typo in an operator's allowlist must stop the service, not silently allow nothing (or all).
 */
export function parseCidr(input: string): Cidr {
  const [addressPart = '', prefixPart, extra] = input.trim().split('/');
  const raw = parseIp(addressPart);
  const rawVersion = isIP(addressPart.replace(/%.*$/, ''));
  if (!raw || extra !== undefined || (prefixPart !== undefined && !/^\d{1,3}$/.test(prefixPart))) {
    throw new Error(`not a CIDR range: ${JSON.stringify(input)}`);
  }
  const writtenBits = rawVersion === 4 ? 32 : 128;
  let prefix = prefixPart === undefined ? writtenBits : Number(prefixPart);
  if (prefix > writtenBits) throw new Error(`not a CIDR range: ${JSON.stringify(input)} (prefix above ${writtenBits})`);
  if (rawVersion === 6 && raw.version === 4) {
    // Written as ::ffff:a.b.c.d/n: only /96 and longer stay inside the mapped block.
    if (prefix < 96) return { version: 6, value: mask((MAPPED_PREFIX << 32n) | raw.value, 128, prefix), prefix };
    prefix -= 96;
  }
  return { version: raw.version, value: mask(raw.value, bitsOf(raw.version), prefix), prefix };
}

function mask(value: bigint, bits: number, prefix: number): bigint {
  const hostBits = BigInt(bits - prefix);
  return (value >> hostBits) << hostBits;
}

/** Whether `ip` lies inside `cidr` (different families never match, after mapped folding). */
export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  if (cidr.version !== ip.version) return false;
  return mask(ip.value, bitsOf(ip.version), cidr.prefix) === cidr.value;
}

/** Why an address is not a public unicast destination. */
export type AddressClass =
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'shared'
  | 'link-local'
  | 'unique-local'
  | 'multicast'
  | 'reserved';

const rule = (range: string, why: AddressClass) => ({ range: parseCidr(range), why });

/**
 * Ranges a webhook may not reach by default. Beyond the RFC 1918 / loopback / link-local / ULA core,
 * the list refuses ranges that only make sense inside a network (benchmarking, IETF protocol space,
 * deprecated site-local, IPv4-compatible IPv6, local-use NAT64, Teredo) because a public receiver
 * never lives there and each has been used to smuggle requests inward.
 */
const FORBIDDEN = [
  rule('0.0.0.0/8', 'unspecified'),
  rule('10.0.0.0/8', 'private'),
  rule('100.64.0.0/10', 'shared'),
  rule('127.0.0.0/8', 'loopback'),
  rule('169.254.0.0/16', 'link-local'),
  rule('172.16.0.0/12', 'private'),
  rule('192.0.0.0/24', 'reserved'),
  rule('192.168.0.0/16', 'private'),
  rule('198.18.0.0/15', 'reserved'),
  rule('224.0.0.0/4', 'multicast'),
  rule('240.0.0.0/4', 'reserved'), // includes 255.255.255.255
  rule('::/128', 'unspecified'),
  rule('::1/128', 'loopback'),
  rule('::/96', 'reserved'), // IPv4-compatible, deprecated
  rule('64:ff9b:1::/48', 'reserved'), // local-use NAT64
  rule('100::/64', 'reserved'), // discard-only
  rule('2001::/32', 'reserved'), // Teredo: the IPv4 endpoint is obfuscated, so it cannot be checked
  rule('fc00::/7', 'unique-local'),
  rule('fe80::/10', 'link-local'),
  rule('fec0::/10', 'private'), // deprecated site-local
  rule('ff00::/8', 'multicast'),
];

/** Prefixes that carry an IPv4 address inside IPv6 and where it sits (bit offset from the top). */
const EMBEDDED_V4 = [
  { range: parseCidr('64:ff9b::/96'), shift: 0n }, // well-known NAT64: last 32 bits
  { range: parseCidr('2002::/16'), shift: 80n }, // 6to4: bits 16..48
];

/**
 * The reason `ip` is not a public unicast address, or null when it is. IPv6 forms that translate to
 * an IPv4 destination (NAT64, 6to4) are judged by the IPv4 address they lead to.
 */
export function classifyAddress(ip: IpAddress): AddressClass | null {
  for (const { range, why } of FORBIDDEN) if (cidrContains(range, ip)) return why;
  if (ip.version === 6) {
    for (const { range, shift } of EMBEDDED_V4) {
      if (cidrContains(range, ip)) return classifyAddress({ version: 4, value: (ip.value >> shift) & 0xffffffffn });
    }
  }
  return null;
}
