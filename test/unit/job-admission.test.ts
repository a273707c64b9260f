import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ApiError,
  type JobData,
  loadConfig,
  RETRY_AFTER_UNKNOWN_S,
  ReplicationShortError,
  STORAGE_FULL_RETRY_AFTER_S,
  type Tenant,
  type WorkerHealth,
} from '@sbx/shared';
import { queueFullError, storageQuotaError } from '../../apps/api/src/services/admission.js';
import { unbuiltRefusal } from '../../apps/api/src/services/environment-availability.js';
import { WaitEstimates } from '../../apps/api/src/services/eta.js';
import { checkIdempotencyKey, IdempotencyKeys, requestHash } from '../../apps/api/src/services/idempotency.js';
import { tenantLimits } from '../../apps/api/src/services/job-validation.js';
import { confirmReplicated, notReplicatedError } from '../../apps/api/src/services/replication.js';
import { describeService } from '../../apps/api/src/services/service-info.js';
import { TimedCache } from '../../apps/api/src/services/timed-cache.js';
import { orUnavailable, unavailable } from '../../apps/api/src/services/unavailable.js';

const tenant: Tenant = {
  id: 'acme',
  maxTimeMs: 5000,
  maxMemoryMb: 512,
  ratePerMinute: 600,
  maxQueued: 10,
  maxRunning: 0,
  maxStoredBytes: 1000,
  environments: null,
  lanes: ['interactive', 'batch'],
  weight: 1,
};

const OOM = new Error("OOM command not allowed when used memory > 'maxmemory'.");

test('a full tenant queue is a 429 and a full queue a 503, each retried at the pace jobs leave', () => {
  const mine = queueFullError(tenant, 500, 'tenant', 10, 2, 0.5);
  assert.equal(mine.code, 'tenant_queue_full');
  assert.equal(mine.statusCode, 429);
  assert.equal(mine.message, 'tenant acme already has 10 jobs waiting (its cap is 10); retry in 4 s');
  assert.deepEqual(mine.details, { maximum: 10, queued: 10 });
  assert.equal(mine.retryAfterSeconds, 4, 'two over the cap at 0.5 starts/s');
  const all = queueFullError(tenant, 500, 'total', 500, 1, null);
  assert.equal(all.code, 'queue_full');
  assert.equal(all.statusCode, 503);
  assert.equal(
    all.message,
    `the queue already holds 500 waiting jobs (its cap is 500); retry in ${RETRY_AFTER_UNKNOWN_S} s`,
  );
  assert.deepEqual(all.details, { maximum: 500, queued: 500 });
  assert.equal(all.retryAfterSeconds, RETRY_AFTER_UNKNOWN_S, 'no pace known');
});

test('a tenant past its stored-bytes quota is a 429 storage_quota with when enough expires', () => {
  const err = storageQuotaError(tenant, { ok: false, used: 1200, retryAfterSeconds: 60 }, 3600);
  assert.equal(err.code, 'storage_quota');
  assert.equal(err.statusCode, 429);
  assert.equal(
    err.message,
    'tenant acme has 1200 bytes stored (job bodies, results and artifacts of the last 3600 s; its quota is 1000); retry in 60 s',
  );
  assert.deepEqual(err.details, { maximum: 1000, stored: 1200 });
  assert.equal(err.retryAfterSeconds, 60);
});

test('Redis refusing for memory is storage_full; any other trouble is queue_unavailable with its cause', async () => {
  const full = unavailable(OOM);
  assert.equal(full.code, 'storage_full');
  assert.equal(full.retryAfterSeconds, STORAGE_FULL_RETRY_AFTER_S);
  assert.match(full.message, /nothing was queued/);
  const down = unavailable(new Error('Connection is closed.'));
  assert.equal(down.code, 'queue_unavailable');
  assert.equal(down.statusCode, 503);
  assert.equal(down.message, 'the job queue is unavailable; nothing was queued, try again');
  assert.deepEqual(down.details, { cause: 'Connection is closed.' });
  assert.equal(await orUnavailable(Promise.resolve(7)), 7);
  await assert.rejects(orUnavailable(Promise.reject(new Error('x'))), { code: 'queue_unavailable' });
});

test('a job no replica confirmed is a 503 not_replicated, retried after 1 s with the same key', async () => {
  const short = notReplicatedError(new ReplicationShortError(0, 1, 100));
  assert.equal(short.code, 'not_replicated');
  assert.equal(short.statusCode, 503);
  assert.equal(short.retryAfterSeconds, 1);
  assert.deepEqual(short.details, { acknowledged: 0, wanted: 1 });
  assert.match(
    short.message,
    /^0 of 1 Redis replicas confirmed the write within 100 ms; the job was queued on the primary/,
  );
  assert.match(short.message, /same Idempotency-Key/);
  const silent = notReplicatedError(new Error('Connection is closed.'));
  assert.match(silent.message, /^Redis did not answer: Connection is closed\.; /);
  assert.equal(silent.details, undefined);
  await confirmReplicated(null);
  await confirmReplicated({ confirm: async () => {} });
  await assert.rejects(
    confirmReplicated({
      confirm: async () => {
        throw new ReplicationShortError(1, 2, 50);
      },
    }),
    { code: 'not_replicated' },
  );
});

test('an environment no live worker has built is refused; nothing known lets every job queue', () => {
  assert.equal(unbuiltRefusal(['python-data'], null), null);
  assert.equal(unbuiltRefusal(['python', 'python'], new Set(['python'])), null);
  const err = unbuiltRefusal(['python', 'python-data'], new Set(['python']));
  assert.ok(err instanceof ApiError);
  assert.equal(err.code, 'environment_not_available');
  assert.equal(
    err.message,
    'environment "python-data" is not built on any live worker (build-image.sh python-data, then restart the workers)',
  );
  assert.deepEqual(err.details, { environment: 'python-data', available: ['python'] });
});

test('a timed cache reads once per window, again after it, and keeps no failed read', async () => {
  let clock = 1000;
  const reads: number[] = [];
  let fail = false;
  const cache = new TimedCache(
    100,
    async (now) => {
      reads.push(now);
      if (fail) throw new Error('down');
      return reads.length;
    },
    () => clock,
  );
  assert.equal(await cache.get(), 1);
  clock = 1100;
  assert.equal(await cache.get(), 1, 'exactly the window old: still fresh');
  clock = 1101;
  assert.equal(await cache.get(), 2);
  clock = 1300;
  fail = true;
  await assert.rejects(cache.get(), /down/);
  fail = false;
  assert.equal(await cache.get(), 4, 'the failed read was not kept');
  assert.deepEqual(reads, [1000, 1101, 1300, 1300]);
});

test("a waiting job's place: its lane, the jobs ahead, and an ETA at the fleet's cached pace", async () => {
  let rateReads = 0;
  const positions = new Map<string, number | null>([
    ['a', 0],
    ['b', 3],
    ['gone', null],
  ]);
  const fair = {
    position: async (id: string) => {
      if (id === 'broken') throw new Error('Connection is closed.');
      return positions.get(id) ?? null;
    },
    rate: async () => {
      rateReads += 1;
      return 2;
    },
  };
  const queue = { getJob: async () => ({ data: { lane: 'interactive' } as JobData }) };
  const estimates = new WaitEstimates(queue as never, fair);
  assert.deepEqual(await estimates.place('a', { lane: 'batch' } as JobData), {
    lane: 'batch',
    position: 0,
    eta_seconds: 0.5,
  });
  assert.deepEqual(await estimates.place('b'), { lane: 'interactive', position: 3, eta_seconds: 2 });
  assert.equal(rateReads, 1, 'GET /jobs?ids= places many jobs on one read of the pace');
  assert.deepEqual(await estimates.place('gone', {} as JobData), { position: null, eta_seconds: null });
  assert.deepEqual(await estimates.place('broken'), { position: null, eta_seconds: null }, 'Redis trouble: unknown');
});

test('an Idempotency-Key is 1-255 visible ASCII characters; the body hash is of the request as sent', () => {
  checkIdempotencyKey('a');
  checkIdempotencyKey('~'.repeat(255));
  for (const bad of ['', 'a b', 'é', 'x'.repeat(256), 'tab\t'])
    assert.throws(() => checkIdempotencyKey(bad), {
      code: 'validation_failed',
      message: 'Idempotency-Key must be 1-255 visible ASCII characters',
    });
  assert.equal(requestHash({ code: 'x' }), requestHash({ code: 'x' }));
  assert.notEqual(requestHash({ code: 'x' }), requestHash({ code: 'y' }));
  assert.match(requestHash({ code: 'x' }), /^[0-9a-f]{64}$/);
});

/** Redis as far as idempotency keys use it: SET NX, GET, the take-over script, DEL. */
function fakeRedis() {
  const store = new Map<string, string>();
  return {
    store,
    async set(key: string, value: string, ..._opts: unknown[]) {
      if (store.has(key)) return null;
      store.set(key, value);
      return 'OK';
    },
    async get(key: string) {
      return store.get(key) ?? null;
    },
    async eval(_script: string, _n: number, key: string, expected: string, next: string) {
      if (store.get(key) !== expected) return 0;
      store.set(key, next);
      return 1;
    },
    async del(key: string) {
      return store.delete(key) ? 1 : 0;
    },
  };
}

test('a key claims once; the same body replays the job, another body is a 409', async () => {
  const redis = fakeRedis();
  const known = new Set<string>();
  const keys = new IdempotencyKeys(redis as never, 'sbx', async (id) => known.has(id));
  const first = await keys.claim('acme', 'k1', 'job-1', 'hash-a');
  assert.equal(first.replay, false);
  known.add('job-1');
  assert.deepEqual(await keys.claim('acme', 'k1', 'job-2', 'hash-a'), { replay: true, id: 'job-1' });
  await assert.rejects(keys.claim('acme', 'k1', 'job-3', 'hash-b'), {
    code: 'idempotency_conflict',
    message: 'this Idempotency-Key was used with a different request body',
  });
  const other = await keys.claim('globex', 'k1', 'job-4', 'hash-b');
  assert.equal(other.replay, false, 'keys are per tenant');
});

test('a failed queueing gives the key back, except a job queued but not yet replicated', async () => {
  const redis = fakeRedis();
  const keys = new IdempotencyKeys(redis as never, 'sbx', async () => true);
  const claim = await keys.claim('acme', 'k', 'job-1', 'h');
  assert.ok(!claim.replay);
  await keys.releaseAfter(claim.slot, new ApiError('not_replicated', 'short'));
  assert.ok(redis.store.has(claim.slot), 'the key keeps naming the queued job');
  await keys.releaseAfter(claim.slot, new ApiError('queue_full', 'full'));
  assert.equal(redis.store.has(claim.slot), false);
});

test('a key whose job never appeared is taken over by the next request with the same body', async () => {
  const redis = fakeRedis();
  const keys = new IdempotencyKeys(redis as never, 'sbx', async () => false);
  const first = await keys.claim('acme', 'k', 'lost-job', 'h');
  assert.ok(!first.replay);
  const second = await keys.claim('acme', 'k', 'job-2', 'h');
  assert.deepEqual(second, { replay: false, slot: first.slot });
  assert.equal(redis.store.get(first.slot), JSON.stringify({ id: 'job-2', bodyHash: 'h' }));
});

test("GET /info's limits are the bounds validation enforces for the same tenant", () => {
  const config = loadConfig({});
  const small = { ...tenant, maxTimeMs: 1000, maxMemoryMb: 128, environments: ['python' as const] };
  const workers: { health: WorkerHealth | null }[] = [];
  const info = describeService(config, small, workers);
  const b = tenantLimits(config, small);
  assert.deepEqual(info.limits.time_ms, { default: b.defaultTimeMs, max: b.maxTimeMs });
  assert.deepEqual(info.limits.memory_mb, { default: b.defaultMemoryMb, min: b.minMemoryMb, max: b.maxMemoryMb });
  assert.equal(info.limits.code_bytes, config.maxCodeBytes);
  assert.equal(info.limits.queued, small.maxQueued);
  assert.equal(info.limits.queued_total, config.maxQueued);
  assert.deepEqual(
    info.environments.map((e) => e.name),
    ['python'],
  );
  assert.equal(info.default_policy, 'strict');
  assert.deepEqual(info.sandbox, []);
});
