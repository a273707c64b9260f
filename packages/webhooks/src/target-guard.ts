import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { type Cidr, cidrContains, classifyAddress, parseCidr, parseIp } from './cidr.js';

/**
 * The SSRF guard. A callback URL comes from whoever submitted the job, so before every attempt we
 * resolve its host, refuse non-public addresses (unless an operator allowlisted them), and hand the
 * caller the exact address we checked: deliverOnce connects to that address and nothing else, so a
 * DNS answer that changes between check and connect (rebinding) cannot redirect the request inward.
 */

export type WebhookTargetErrorCode = 'invalid_url' | 'unsupported_scheme' | 'forbidden_address' | 'unresolvable';

export class WebhookTargetError extends Error {
  override readonly name = 'WebhookTargetError';
  constructor(
    /** Stable, for stored state and logs; the message is for humans. */
    readonly code: WebhookTargetErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export type HostLookup = (host: string) => Promise<ResolvedAddress[]>;

export interface SafeTarget {
  url: URL;
  /** Connect here, and only here. */
  address: string;
  family: 4 | 6;
}

export interface TargetGuardOptions {
  /** CIDRs (`127.0.0.0/8`, `fd00::/8`, or a bare address) an operator allows despite being non-public. */
  allowlist: readonly string[];
  /** Name resolution; defaults to the system resolver (getaddrinfo, so /etc/hosts applies). */
  lookup?: HostLookup;
  /** Give up on a resolver that does not answer; default 5000 ms. */
  lookupTimeoutMs?: number;
}

const systemLookup: HostLookup = async (host) => {
  const answers = await dnsLookup(host, { all: true, verbatim: true });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/** Parses allowlist entries once; throws naming the bad entry. */
export function parseAllowlist(entries: readonly string[]): Cidr[] {
  return entries.map(parseCidr);
}

/**
 * Null when `address` may be contacted, otherwise why not. The allowlist wins over the built-in
 * rules so an operator can reach, say, an internal receiver on 10.1.2.3/32 on purpose.
 */
export function addressRefusal(address: string, allowlist: readonly Cidr[]): string | null {
  const ip = parseIp(address);
  if (!ip) return 'not an IP address';
  if (allowlist.some((range) => cidrContains(range, ip))) return null;
  const why = classifyAddress(ip);
  return why && `${why} address`;
}

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Validates `raw` and picks the address to connect to. Throws WebhookTargetError:
 * `invalid_url` (unparsable, no host, or credentials in it: we never send them), `unsupported_scheme`
 * (not http/https), `unresolvable` (no answer, worth retrying later), `forbidden_address` (a refusal,
 * final). When the name resolves to several addresses, every one must pass: a name that mixes a
 * public and a private answer is an attack or a misconfiguration either way.
 */
export async function resolveSafeTarget(raw: string, opts: TargetGuardOptions): Promise<SafeTarget> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookTargetError('invalid_url', 'webhook URL is not a valid absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new WebhookTargetError('unsupported_scheme', `webhook URL scheme ${url.protocol} is not http or https`);
  }
  if (url.username || url.password) {
    throw new WebhookTargetError('invalid_url', 'webhook URL must not contain credentials');
  }
  // WHATWG URL already canonicalised numeric hosts (http://2130706433/ is 127.0.0.1 by now).
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new WebhookTargetError('invalid_url', 'webhook URL has no host');
  const allowlist = parseAllowlist(opts.allowlist);

  let candidates: ResolvedAddress[];
  const literal = isIP(host);
  if (literal === 4 || literal === 6) {
    candidates = [{ address: host, family: literal }];
  } else {
    try {
      candidates = await withTimeout((opts.lookup ?? systemLookup)(host), opts.lookupTimeoutMs ?? 5000);
    } catch (err) {
      throw new WebhookTargetError('unresolvable', `cannot resolve ${host}: ${(err as Error).message}`);
    }
  }
  const chosen = candidates[0];
  if (!chosen) throw new WebhookTargetError('unresolvable', `${host} has no address`);
  for (const candidate of candidates) {
    const refusal = addressRefusal(candidate.address, allowlist);
    if (refusal) {
      const shown = candidate.address === host ? host : `${host} (${candidate.address})`;
      throw new WebhookTargetError('forbidden_address', `${shown} is a ${refusal}; webhooks may not reach it`);
    }
  }
  return { url, address: chosen.address, family: chosen.family };
}
