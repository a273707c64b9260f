import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jobIdOfParked, loadConfig, loadTenants, parkedMember, quotaCheck } from '@sbx/shared';

test('quota: under it is ok; at or past it, Retry-After is when enough of the oldest bytes stop counting', () => {
  const now = 1_000_000;
  const buckets = [
    { expiresAt: now + 30_000, bytes: 600 },
    { expiresAt: now + 10_000, bytes: 300 },
    { expiresAt: now + 50_000, bytes: 200 },
    { expiresAt: now - 1, bytes: 10_000 },
  ];
  assert.deepEqual(quotaCheck(buckets, 1101, now), { ok: true, used: 1100 });
  // 1100 stored, quota 1000: the bucket ending first (300) brings it to 800.
  assert.deepEqual(quotaCheck(buckets, 1000, now), { ok: false, used: 1100, retryAfterSeconds: 10 });
  // Quota 500: 800 left after 10 s, 200 after 30 s.
  assert.deepEqual(quotaCheck(buckets, 500, now), { ok: false, used: 1100, retryAfterSeconds: 30 });
  assert.deepEqual(quotaCheck([{ expiresAt: now + 1, bytes: 5 }], 5, now), {
    ok: false,
    used: 5,
    retryAfterSeconds: 1,
  });
  assert.deepEqual(quotaCheck([], 1, now), { ok: true, used: 0 });
});

test('parked jobs of one priority leave in the order they were accepted, and give back their ids', () => {
  const id = '0b7e9a2c-4f1d-4c3a-9d8e-2a6b5c4d3e2f';
  const members = [
    parkedMember(1_765_000_000_123, 'ffff'),
    parkedMember(999, 'aaaa'),
    parkedMember(1_765_000_000_122, 'zzzz'),
  ];
  assert.deepEqual([...members].sort().map(jobIdOfParked), ['aaaa', 'zzzz', 'ffff']);
  assert.equal(jobIdOfParked(parkedMember(5, id)), id);
});

test("a tenant's running cap and stored-bytes quota come from the tenants file, checked, else the server's", () => {
  const config = loadConfig({
    SBX_TENANTS_FILE: '/tenants.json',
    SBX_API_KEYS: '',
    SBX_MAX_RUNNING_PER_TENANT: '3',
    SBX_MAX_STORED_MB_PER_TENANT: '10',
  });
  const tenant = (extra: object) =>
    [...loadTenants(config, () => JSON.stringify([{ id: 't', key_sha256: ['a'.repeat(64)], ...extra }])).values()][0];
  assert.deepEqual([tenant({})?.maxRunning, tenant({})?.maxStoredBytes], [3, 10 * 1024 * 1024]);
  assert.deepEqual(
    [tenant({ max_running: 0 })?.maxRunning, tenant({ max_stored_mb: 2 })?.maxStoredBytes],
    [0, 2 * 1024 * 1024],
  );
  assert.throws(() => tenant({ max_running: -1 }), /max_running must be a whole number/);
  assert.throws(() => tenant({ max_running: 1.5 }), /max_running must be/);
  assert.throws(() => tenant({ max_stored_mb: 0 }), /max_stored_mb must be a whole number of MiB/);
  assert.equal(loadConfig({}).maxRunningPerTenant, 0, 'no cap unless asked for');
});
