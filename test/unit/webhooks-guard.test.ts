import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  addressRefusal,
  cidrContains,
  classifyAddress,
  type HostLookup,
  parseCidr,
  parseIp,
  resolveSafeTarget,
  WebhookTargetError,
} from '@sbx/webhooks';

const ip = (s: string) => {
  const parsed = parseIp(s);
  assert.ok(parsed, `${s} should parse`);
  return parsed;
};
const inRange = (range: string, address: string) => cidrContains(parseCidr(range), ip(address));

test('IPv4 and IPv6 parse to the right numbers; hostnames do not parse', () => {
  assert.deepEqual(parseIp('10.1.2.3'), { version: 4, value: 0x0a010203n });
  assert.deepEqual(parseIp('::1'), { version: 6, value: 1n });
  assert.deepEqual(parseIp('2001:db8::8:800:200c:417a'), { version: 6, value: 0x20010db8_00000000_00080800_200c417an });
  assert.deepEqual(parseIp('[fe80::1%eth0]'), { version: 6, value: (0xfe80n << 112n) | 1n });
  assert.deepEqual(parseIp('1:2:3:4:5:6:1.2.3.4'), { version: 6, value: 0x00010002_00030004_00050006_01020304n });
  assert.equal(parseIp('example.com'), null);
  assert.equal(parseIp('10.0.0.256'), null);
  assert.equal(parseIp('1::2::3'), null);
});

test('IPv4-mapped IPv6, in either notation, folds into IPv4', () => {
  assert.deepEqual(parseIp('::ffff:127.0.0.1'), { version: 4, value: 0x7f000001n });
  assert.deepEqual(parseIp('::ffff:7f00:1'), { version: 4, value: 0x7f000001n });
  assert.deepEqual(parseIp('0:0:0:0:0:ffff:a00:1'), { version: 4, value: 0x0a000001n });
  // Only ::ffff:0:0/96 is mapped; IPv4-compatible ::a.b.c.d stays IPv6.
  assert.equal(parseIp('::127.0.0.1')?.version, 6);
});

test('CIDR containment: IPv4 edges', () => {
  assert.equal(inRange('172.16.0.0/12', '172.16.0.0'), true);
  assert.equal(inRange('172.16.0.0/12', '172.31.255.255'), true);
  assert.equal(inRange('172.16.0.0/12', '172.32.0.0'), false);
  assert.equal(inRange('172.16.0.0/12', '172.15.255.255'), false);
  assert.equal(inRange('100.64.0.0/10', '100.127.255.255'), true);
  assert.equal(inRange('100.64.0.0/10', '100.128.0.0'), false);
  assert.equal(inRange('0.0.0.0/0', '8.8.8.8'), true);
  assert.equal(inRange('8.8.8.8', '8.8.8.8'), true, 'a bare address is a /32');
  assert.equal(inRange('8.8.8.8', '8.8.8.9'), false);
  assert.equal(inRange('10.9.9.9/8', '10.0.0.1'), true, 'host bits in the range are ignored');
});

test('CIDR containment: IPv6 edges, mapped ranges, and no cross-family match', () => {
  assert.equal(inRange('fc00::/7', 'fdff:ffff::1'), true);
  assert.equal(inRange('fc00::/7', 'fe00::1'), false);
  assert.equal(inRange('fe80::/10', 'febf::1'), true);
  assert.equal(inRange('fe80::/10', 'fec0::1'), false);
  assert.equal(inRange('127.0.0.0/8', '::ffff:127.0.0.1'), true, 'a v4 range covers the mapped form');
  assert.equal(inRange('::ffff:127.0.0.0/104', '127.9.9.9'), true, 'a mapped range is a v4 range');
  assert.equal(inRange('::ffff:127.0.0.0/104', '128.0.0.1'), false);
  assert.equal(inRange('::/0', '10.0.0.1'), false, 'IPv6 ranges never match IPv4');
  assert.equal(inRange('0.0.0.0/0', '::1'), false);
});

test('bad CIDRs are refused, not treated as empty or universal', () => {
  for (const bad of ['', 'localhost', '10.0.0.0/33', '::/129', '10.0.0.0/8/8', '10.0.0.0/x', '10.0.0.0/-1']) {
    assert.throws(() => parseCidr(bad), /not a CIDR/, bad);
  }
});

test('address classes: every forbidden kind, including mapped and translated forms', () => {
  const cases: Array<[string, string | null]> = [
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.20.1.1', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'shared'],
    ['169.254.169.254', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fd12:3456::1', 'unique-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:7f00:1', 'loopback'],
    ['::10.0.0.1', 'reserved'],
    ['64:ff9b::a00:1', 'private'], // NAT64 to 10.0.0.1
    ['2002:a00:1::1', 'private'], // 6to4 from 10.0.0.1
    ['2002:808:808::1', null], // 6to4 from 8.8.8.8
    ['8.8.8.8', null],
    ['172.32.0.1', null],
    ['100.128.0.1', null],
    ['2606:4700:4700::1111', null],
    ['::ffff:8.8.8.8', null],
    ['64:ff9b::808:808', null],
  ];
  for (const [address, expected] of cases) assert.equal(classifyAddress(ip(address)), expected, address);
});

test('the allowlist wins over the built-in rules, and only for what it covers', () => {
  const allow = [parseCidr('127.0.0.0/8'), parseCidr('fd00::/8')];
  assert.equal(addressRefusal('127.0.0.1', allow), null);
  assert.equal(addressRefusal('::ffff:127.0.0.1', allow), null);
  assert.equal(addressRefusal('fd00::5', allow), null);
  assert.equal(addressRefusal('::1', allow), 'loopback address');
  assert.equal(addressRefusal('10.0.0.1', allow), 'private address');
  assert.equal(addressRefusal('127.0.0.1', []), 'loopback address');
});

const refusedWith = (code: string) => (err: unknown) => err instanceof WebhookTargetError && err.code === code;
const noLookup: HostLookup = async () => assert.fail('IP literals must not be resolved');
const fixed =
  (answers: Record<string, string[]>): HostLookup =>
  async (host) =>
    (answers[host] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }) as const);

test('guard: only absolute http(s) URLs without credentials', async () => {
  const opts = { allowlist: [], lookup: noLookup };
  await assert.rejects(resolveSafeTarget('not a url', opts), refusedWith('invalid_url'));
  await assert.rejects(resolveSafeTarget('/relative', opts), refusedWith('invalid_url'));
  await assert.rejects(resolveSafeTarget('https://user:pw@8.8.8.8/', opts), refusedWith('invalid_url'));
  for (const url of ['ftp://8.8.8.8/', 'file:///etc/passwd', 'gopher://8.8.8.8/', 'javascript:alert(1)']) {
    await assert.rejects(resolveSafeTarget(url, opts), refusedWith('unsupported_scheme'), url);
  }
  const ok = await resolveSafeTarget('https://8.8.8.8:8443/hook?x=1', opts);
  assert.deepEqual(
    { address: ok.address, family: ok.family, href: ok.url.href },
    {
      address: '8.8.8.8',
      family: 4,
      href: 'https://8.8.8.8:8443/hook?x=1',
    },
  );
});

test('guard: forbidden IP literals, in every spelling the URL parser accepts', async () => {
  const opts = { allowlist: [], lookup: noLookup };
  for (const url of [
    'http://10.0.0.1/',
    'http://127.0.0.1:8080/',
    'http://2130706433/', // 127.0.0.1 as a number
    'http://0x7f.1/', // 127.0.0.1 in hex shorthand
    'http://0/',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::1]/',
    'http://[::ffff:10.0.0.1]/',
    'http://[::ffff:7f00:1]/',
    'http://[fd00::1]/',
    'http://[fe80::1]/',
  ]) {
    await assert.rejects(resolveSafeTarget(url, opts), refusedWith('forbidden_address'), url);
  }
});

test('guard: allowlisted loopback passes and keeps the address it checked', async () => {
  const t = await resolveSafeTarget('http://127.0.0.1:9/x', { allowlist: ['127.0.0.0/8'], lookup: noLookup });
  assert.equal(t.address, '127.0.0.1');
  const v6 = await resolveSafeTarget('http://[::1]:9/', { allowlist: ['::1/128'], lookup: noLookup });
  assert.deepEqual([v6.address, v6.family], ['::1', 6]);
});

test('guard: names are judged by what they resolve to, all answers must pass', async () => {
  const lookup = fixed({
    'public.test': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
    'internal.test': ['10.1.2.3'],
    'mixed.test': ['93.184.216.34', '192.168.0.10'],
    'mapped.test': ['::ffff:127.0.0.1'],
    localhost: ['127.0.0.1', '::1'],
  });
  const t = await resolveSafeTarget('https://public.test/hook', { allowlist: [], lookup });
  assert.deepEqual([t.address, t.family, t.url.hostname], ['93.184.216.34', 4, 'public.test']);
  for (const url of ['http://internal.test/', 'http://mixed.test/', 'http://mapped.test/', 'http://localhost/']) {
    await assert.rejects(resolveSafeTarget(url, { allowlist: [], lookup }), refusedWith('forbidden_address'), url);
  }
  await assert.rejects(
    resolveSafeTarget('http://internal.test/', { allowlist: [], lookup }),
    /internal\.test \(10\.1\.2\.3\) is a private address/,
  );
  const allowed = await resolveSafeTarget('http://internal.test/', { allowlist: ['10.1.2.3/32'], lookup });
  assert.equal(allowed.address, '10.1.2.3');
});

test('guard: no answer, a resolver error or a hung resolver is unresolvable', async () => {
  await assert.rejects(
    resolveSafeTarget('http://nothing.test/', { allowlist: [], lookup: fixed({}) }),
    refusedWith('unresolvable'),
  );
  const failing: HostLookup = async () => {
    throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
  };
  await assert.rejects(
    resolveSafeTarget('http://x.test/', { allowlist: [], lookup: failing }),
    refusedWith('unresolvable'),
  );
  const hung: HostLookup = () => new Promise(() => {});
  await assert.rejects(
    resolveSafeTarget('http://x.test/', { allowlist: [], lookup: hung, lookupTimeoutMs: 50 }),
    refusedWith('unresolvable'),
  );
});

test('guard: a broken allowlist entry is a configuration error, not a refusal', async () => {
  await assert.rejects(resolveSafeTarget('http://8.8.8.8/', { allowlist: ['10.0.0.0/99'] }), /not a CIDR/);
});
