import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BAND,
  etaSeconds,
  loadConfig,
  loadTenants,
  MAX_ROUND,
  priorityOf,
  RATE_WINDOW_MS,
  RETRY_AFTER_UNKNOWN_S,
  resolveLane,
  retryAfterSeconds,
  startRate,
} from '@sbx/shared';

test('every interactive priority is below every batch one, and all stay within BullMQ 1 .. 2^21-1', () => {
  assert.equal(priorityOf('interactive', 1), 1);
  assert.ok(priorityOf('interactive', MAX_ROUND) < priorityOf('batch', 1));
  assert.equal(priorityOf('batch', MAX_ROUND), 2 * BAND - 1);
  assert.ok(priorityOf('batch', MAX_ROUND) <= 2 ** 21 - 1);
  assert.equal(priorityOf('batch', MAX_ROUND + 5), priorityOf('batch', MAX_ROUND), 'past the band: clamped');
  assert.equal(priorityOf('interactive', 0), 1, 'never 0: that is BullMQ wait list, kept for promotions');
});

test('the start rate is the pace over the last minute, and unknown with too little to go by', () => {
  const now = 1_000_000;
  assert.equal(startRate([], now), null);
  assert.equal(startRate([now - 10], now), null, 'one start is no pace');
  assert.equal(startRate([now - 2000, now - 1000, now], now), 1, 'three starts over 2 s');
  assert.equal(startRate([now - 500, now - 500], now), null, 'no span');
  const old = now - RATE_WINDOW_MS - 1;
  assert.equal(startRate([old, old - 1000], now), null, 'nothing recent');
  assert.equal(startRate([now - 1000, now, old - 50_000], now), 1, 'old starts are left out');
});

test('the wait estimate counts its own start; unknown without a rate', () => {
  assert.equal(etaSeconds(0, 2), 0.5);
  assert.equal(etaSeconds(9, 2), 5);
  assert.equal(etaSeconds(3, null), null);
  assert.equal(etaSeconds(3, 0), null);
});

test('Retry-After is the time for the jobs over the cap to start, in whole seconds from 1 to 3600', () => {
  assert.equal(retryAfterSeconds(100, 100, 1, 2), 1, 'one over at 2/s: 0.5 s, at least 1');
  assert.equal(retryAfterSeconds(100, 100, 20, 2), 10, 'a batch of 20 over a full cap at 2/s');
  assert.equal(retryAfterSeconds(1000, 100, 1, 0.5), 1802);
  assert.equal(retryAfterSeconds(10 ** 9, 1, 1, 0.001), 3600);
  assert.equal(retryAfterSeconds(100, 100, 1, null), RETRY_AFTER_UNKNOWN_S);
});

test("a job's lane: the one asked for if allowed, else the route's default, else the tenant's lane", () => {
  const both = ['interactive', 'batch'] as const;
  assert.equal(resolveLane(undefined, 'interactive', both), 'interactive');
  assert.equal(resolveLane('batch', 'interactive', both), 'batch');
  assert.equal(resolveLane(undefined, 'interactive', ['batch']), 'batch', 'POST /run for a batch-only tenant');
  assert.equal(resolveLane('interactive', 'batch', ['batch']), null, 'asked for and not allowed');
});

test("a tenant's lanes and weight come from the tenants file, checked; both lanes and weight 1 by default", () => {
  const config = loadConfig({ SBX_TENANTS_FILE: '/tenants.json', SBX_API_KEYS: '' });
  const load = (records: object[]) => loadTenants(config, () => JSON.stringify(records));
  const hash = 'a'.repeat(64);
  const tenant = (extra: object) => [...load([{ id: 't', key_sha256: [hash], ...extra }]).values()][0];
  assert.deepEqual([tenant({})?.lanes, tenant({})?.weight], [['interactive', 'batch'], 1]);
  assert.deepEqual(tenant({ lanes: ['batch', 'interactive'], weight: 3 })?.lanes, ['interactive', 'batch']);
  assert.equal(tenant({ weight: 3 })?.weight, 3);
  assert.throws(() => tenant({ lanes: [] }), /lanes must be a non-empty list/);
  assert.throws(() => tenant({ lanes: ['express'] }), /lanes must be/);
  assert.throws(() => tenant({ weight: 0 }), /weight must be an integer from 1 to 100/);
  assert.throws(() => tenant({ weight: 1.5 }), /weight must be/);
});
