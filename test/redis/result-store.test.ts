/** The result store's rules on a real Redis: the lock holder writes, nobody overwrites, the run log agrees. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import {
  BULL_JOB_FIELDS,
  bullKeys,
  internalErrorResult,
  type JobData,
  jobReceipt,
  type RunResult,
  redisKeys,
} from '@sbx/shared';
import { ResultStore, RUN_LOG_CAP, type RunStart, withRun } from '@sbx/worker';
import { Redis } from 'ioredis';
import { deleteKeys, REDIS_URL } from '../support/stack.js';

const prefix = `sbxtest-${randomBytes(4).toString('hex')}`;
const keys = redisKeys(prefix);
// The default queue name: its job hashes are `{prefix}:runs:{id}`, beside (never in) the run log.
const bull = bullKeys(prefix, 'runs');
const { job: jobKey, lock: lockKey } = bull;
let redis: Redis;
let store: ResultStore;

const data: JobData = {
  code: 'print(1)',
  stdin: '',
  limits: { time_ms: 1000, memory_mb: 128 },
  policy: 'strict',
  submitted_at: new Date().toISOString(),
  request_id: 'r',
};
const resultOf = (id: string, run: RunStart, status: RunResult['status'] = 'ok'): RunResult =>
  withRun({ ...internalErrorResult(id, data, 'x'), status }, run);
const run = (worker: string, attempt: number): RunStart => ({
  worker,
  attempt,
  started_at: new Date().toISOString(),
});

before(() => {
  redis = new Redis(REDIS_URL);
  store = new ResultStore(redis, {
    ttlSeconds: 60,
    resultKey: keys.result,
    runsKey: keys.runs,
    eventsKey: keys.events,
    bull,
  });
});
after(async () => {
  redis.disconnect();
  await deleteKeys(prefix);
});

test('the run holding the lock stores; a run whose lock went to another is dropped, and the log says so', async () => {
  const id = 'job-a';
  await redis.set(lockKey(id), 'token-of-w2', 'PX', 5000);
  await store.started(id, run('w1', 1));
  await store.started(id, run('w2', 2));
  // w1 was cut off: its lock lapsed and w2 holds the job now.
  assert.equal(await store.store(resultOf(id, run('w1', 1), 'timeout'), 'token-of-w1'), 'lock_lost');
  assert.equal(await redis.get(keys.result(id)), null, 'nothing stored for the stale run');
  assert.equal(await store.store(resultOf(id, run('w2', 2)), 'token-of-w2'), 'stored');
  const stored = JSON.parse((await redis.get(keys.result(id))) ?? '{}') as RunResult;
  assert.equal(stored.run?.worker, 'w2');
  assert.equal(stored.status, 'ok');
  const log = await store.runs(id);
  assert.deepEqual(
    log.map((r) =>
      r.event === 'finished' ? `${r.worker}#${r.attempt} ${r.status} ${r.outcome}` : `${r.worker} started`,
    ),
    ['w1 started', 'w2 started', 'w1#1 timeout lock_lost', 'w2#2 ok stored'],
  );
  assert.ok((await redis.ttl(keys.runs(id))) > 0, 'the run log expires with the result');
});

test('a stored result is never overwritten, by the lock holder or by an unfenced write', async () => {
  const id = 'job-b';
  await redis.set(lockKey(id), 't1', 'PX', 5000);
  assert.equal(await store.store(resultOf(id, run('w1', 1)), 't1'), 'stored');
  assert.equal(await store.store(resultOf(id, run('w2', 2), 'timeout'), 't1'), 'superseded');
  assert.equal(await store.store(resultOf(id, run('w3', 3), 'internal_error')), 'superseded');
  const stored = JSON.parse((await redis.get(keys.result(id))) ?? '{}') as RunResult;
  assert.deepEqual([stored.run?.worker, stored.status], ['w1', 'ok']);
});

test('a lock that lapsed with nobody holding it refuses the store: the job is retaken and rerun', async () => {
  const id = 'job-c';
  assert.equal(await store.store(resultOf(id, run('w1', 1)), 't1'), 'lock_lost');
  assert.equal(await redis.exists(keys.result(id)), 0);
});

test('the run log is capped', async () => {
  const id = 'job-d';
  for (let i = 1; i <= 40; i++) await store.started(id, run('w', i));
  const log = await store.runs(id);
  assert.equal(log.length, RUN_LOG_CAP);
  assert.equal(log.at(-1)?.attempt, 40);
});

test("once a result is stored, BullMQ's copy of the job keeps only its receipt; a run that lost its lock leaves it", async () => {
  const id = 'job-e';
  const full = { ...data, code: 'print("secret code")', stdin: 'secret stdin', args: ['secret arg'] };
  const dataOf = async () =>
    JSON.parse((await redis.hget(jobKey(id), BULL_JOB_FIELDS.data)) ?? '{}') as Record<string, unknown>;
  await redis.hset(jobKey(id), BULL_JOB_FIELDS.data, JSON.stringify(full), 'name', 'run');
  await redis.set(lockKey(id), 't2', 'PX', 5000);
  assert.equal(await store.store(resultOf(id, run('w1', 1)), 't1', jobReceipt(full)), 'lock_lost');
  assert.equal((await dataOf()).code, full.code, 'the job will be rerun: it keeps its code');
  assert.equal(await store.store(resultOf(id, run('w2', 2)), 't2', jobReceipt(full)), 'stored');
  const kept = await dataOf();
  assert.deepEqual(kept, jobReceipt(full));
  assert.deepEqual(
    ['code', 'stdin', 'args'].filter((f) => f in kept),
    [],
  );
  assert.equal(kept.submitted_at, data.submitted_at, 'what an internal_error result of it needs is kept');
  assert.equal(await redis.hget(jobKey(id), 'name'), 'run', "BullMQ's other fields are left alone");
  // A job BullMQ no longer has (removed, or cancelled while queued) is not brought back as a stub.
  assert.equal(await store.store(resultOf('job-f', run('w1', 1)), undefined, jobReceipt(full)), 'stored');
  assert.equal(await redis.exists(jobKey('job-f')), 0);
});
