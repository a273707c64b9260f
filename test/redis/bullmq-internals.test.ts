/**
 * The contract with BullMQ's internals (packages/shared/src/bullmq-internals.ts), checked against the
 * installed BullMQ on a real Redis: every key name, key type, hash field and score layout we rely on,
 * each as BullMQ itself makes it. A BullMQ upgrade that moves any of them fails here, by name,
 * rather than quietly breaking the fair order, the result fence or the lock keeper.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  BULL_JOB_FIELDS,
  BULL_MAX_PRIORITY,
  BULL_QUEUE_KEY_TYPES,
  bullKeys,
  FairQueue,
  internalErrorResult,
  type JobData,
  jobEventsKey,
  prioritizedScore,
  priorityOfScore,
} from '@sbx/shared';
import { LockKeeper, ResultStore } from '@sbx/worker';
import { Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { deleteKeys, REDIS_URL } from '../support/stack.js';

interface Data {
  tag: string;
}

/** A job as the API queues it, for the result store's receipt. */
const data: JobData = {
  code: 'print(1)',
  stdin: '',
  limits: { time_ms: 1000, memory_mb: 128 },
  policy: 'strict',
  submitted_at: new Date().toISOString(),
  request_id: 'r',
};

/** A queue of its own (a fresh prefix), and a worker without a processor that takes jobs when told. */
class Harness {
  readonly prefix = `sbxtest-${randomBytes(4).toString('hex')}`;
  readonly name = 'jobs';
  readonly bull = bullKeys(this.prefix, this.name);
  readonly redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  readonly queue = new Queue<Data>(this.name, { connection: this.redis, prefix: this.prefix });
  readonly worker = new Worker<Data>(this.name, null, {
    connection: this.redis,
    prefix: this.prefix,
    lockDuration: 30_000,
  });
  readonly token = randomBytes(8).toString('hex');

  add(tag: string, opts: { priority?: number; delay?: number } = {}) {
    return this.queue.add('run', { tag }, { jobId: randomUUID(), ...opts });
  }

  async take(): Promise<Job<Data>> {
    const job = await this.worker.getNextJob(this.token, { block: false });
    assert.ok(job, 'a job to take');
    return job;
  }

  async close() {
    await this.worker.close();
    await this.queue.close();
    await deleteKeys(this.prefix);
    this.redis.disconnect();
  }
}

describe("BullMQ's internals, as we use them", () => {
  let h: Harness;
  before(() => {
    h = new Harness();
  });
  after(() => h.close());
  /** Each test starts on an empty queue of its own. */
  const fresh = async () => {
    await h.close();
    h = new Harness();
    return h;
  };

  test("every key name is BullMQ's own: the queue's keys and a job's hash", async () => {
    const { queue, bull, redis } = await fresh();
    const keys = queue.keys;
    const own = Object.keys(keys).filter((type) => type !== '');
    assert.deepEqual([...own].sort(), [...BULL_QUEUE_KEY_TYPES].sort(), 'the type names of its keys');
    assert.equal(keys.active, bull.active);
    assert.equal(keys.wait, bull.wait);
    assert.equal(keys.prioritized, bull.prioritized);
    assert.equal(keys.delayed, bull.delayed);
    assert.equal(keys.stalled, bull.stalled);
    assert.equal(keys.meta, bull.meta);
    assert.equal(keys.events, bull.events);
    assert.equal(keys.marker, bull.marker);
    assert.equal(keys.pc, bull.priorityCounter);
    assert.equal(queue.toKey('some-id'), bull.job('some-id'));
    for (const key of Object.values(keys)) assert.ok(key.startsWith(bull.keyPrefix), key);
    const job = await h.add('hash');
    assert.equal(await redis.hget(bull.job(job.id as string), BULL_JOB_FIELDS.data), JSON.stringify({ tag: 'hash' }));
  });

  test('a prioritized job is in the prioritized set, scored priority * 2^32 + the counter', async () => {
    const { bull, redis } = await fresh();
    assert.equal(BULL_MAX_PRIORITY, 2 ** 21 - 1);
    const top = await h.add('top', { priority: BULL_MAX_PRIORITY });
    await assert.rejects(h.add('past', { priority: BULL_MAX_PRIORITY + 1 }), /Priority should be between 0 and/);
    const first = await h.add('first', { priority: 7 });
    const second = await h.add('second', { priority: 7 });
    assert.equal(await redis.type(bull.prioritized), 'zset');
    const counter = Number(await redis.get(bull.priorityCounter));
    const score = async (job: Job) => Number(await redis.zscore(bull.prioritized, job.id as string));
    assert.equal(await score(second), prioritizedScore(7, counter), 'the last one added has the counter as it is');
    assert.equal(await score(first), prioritizedScore(7, counter - 1));
    assert.equal(await score(top), prioritizedScore(BULL_MAX_PRIORITY, counter - 2));
    assert.equal(priorityOfScore(await score(top)), BULL_MAX_PRIORITY);
    // The rank is the order of taking: FairQueue.position counts on it.
    assert.deepEqual(await redis.zrange(bull.prioritized, '0', '-1'), [first.id, second.id, top.id]);
    assert.deepEqual([(await h.take()).id, (await h.take()).id, (await h.take()).id], [first.id, second.id, top.id]);
  });

  test('a job without a priority waits in the wait list, taken from its right end before any prioritized job', async () => {
    const { bull, redis, prefix, name } = await fresh();
    const prioritized = await h.add('prioritized', { priority: 1 });
    const a = await h.add('a');
    const b = await h.add('b');
    assert.equal(await redis.type(bull.wait), 'list');
    assert.equal(await redis.lindex(bull.wait, -1), a.id, 'the first added is at the right end');
    const fair = new FairQueue(redis, prefix, name);
    assert.deepEqual(
      await Promise.all([a, b, prioritized].map((j) => fair.position(j.id as string))),
      [0, 1, 2],
      "our positions, from BullMQ's layout",
    );
    assert.deepEqual([(await h.take()).id, (await h.take()).id, (await h.take()).id], [a.id, b.id, prioritized.id]);
    // Moving a prioritized job to the front, as promoteToFront does, puts it in the wait list.
    const later = await h.add('later', { priority: 5 });
    const front = await h.add('front', { priority: 5 });
    await front.changePriority({ priority: 0 });
    assert.equal(await redis.lindex(bull.wait, -1), front.id);
    assert.equal(await redis.zscore(bull.prioritized, front.id as string), null);
    assert.equal((await h.take()).id, front.id);
    assert.equal((await h.take()).id, later.id);
  });

  test('the keys that say the queue is idle are of the types FairQueue reads them as', async () => {
    const { bull, redis } = await fresh();
    await h.add('taken');
    await h.add('waiting');
    await h.add('prioritized', { priority: 3 });
    await h.add('delayed', { priority: 1, delay: 60_000 });
    await h.take();
    assert.deepEqual(
      await Promise.all([bull.active, bull.wait, bull.prioritized, bull.delayed].map((k) => redis.type(k))),
      ['list', 'list', 'zset', 'zset'],
    );
  });

  test("a taken job's lock holds its token, and our result store is fenced by it", async () => {
    const { bull, redis, prefix, token } = await fresh();
    const job = await h.add('locked');
    const id = job.id as string;
    assert.equal((await h.take()).id, id);
    assert.deepEqual(await redis.lrange(bull.active, 0, -1), [id]);
    assert.equal(await redis.get(bull.lock(id)), token);
    const ttl = await redis.pttl(bull.lock(id));
    assert.ok(ttl > 0 && ttl <= 30_000, `the lock expires with the lock duration: ${ttl}`);
    const store = new ResultStore(redis, {
      ttlSeconds: 60,
      resultKey: (jobId) => `${prefix}:result:${jobId}`,
      runsKey: (jobId) => `${prefix}:runlog:${jobId}`,
      eventsKey: (jobId) => jobEventsKey(prefix, jobId),
      bull,
    });
    const result = { ...internalErrorResult(id, data, ''), status: 'ok' as const };
    assert.equal(await store.store(result, 'not-the-token'), 'lock_lost');
    const { code, ...receipt } = data;
    assert.equal(await store.store(result, token, receipt), 'stored');
    assert.deepEqual(
      JSON.parse((await redis.hget(bull.job(id), BULL_JOB_FIELDS.data)) ?? '{}'),
      receipt,
      "the receipt replaced the data in BullMQ's job hash",
    );
    assert.equal(code, data.code);
  });

  test('the stalled set: BullMQ renews a lock by taking the job out of it, and so does our lock keeper', async () => {
    const { bull, redis, token } = await fresh();
    const job = await h.add('stalling');
    const id = job.id as string;
    const taken = await h.take();
    await redis.sadd(bull.stalled, id);
    assert.equal(await redis.type(bull.stalled), 'set');
    await taken.extendLock(token, 20_000);
    assert.equal(await redis.sismember(bull.stalled, id), 0, "BullMQ's own renewal");
    assert.ok((await redis.pttl(bull.lock(id))) > 10_000);
    await redis.sadd(bull.stalled, id);
    const keeper = new LockKeeper(redis, { bull, lockMs: 45_000, everyMs: 1000 });
    const renewed = await keeper.hold(id, token, () => keeper.renew());
    assert.equal(renewed, 1, 'the lock was still our token');
    assert.equal(await redis.sismember(bull.stalled, id), 0, 'out of the stalled set, as BullMQ would have');
    assert.ok((await redis.pttl(bull.lock(id))) > 30_000, 'the lock renewed for the keeper');
  });

  test("a deferred failure in a job's hash is BullMQ's deferredFailure: what its worker fails the job with, unrun", async () => {
    const { bull, redis, queue } = await fresh();
    const job = await h.add('stalled too often');
    const reason = 'job stalled more than allowable limit';
    await redis.hset(bull.job(job.id as string), BULL_JOB_FIELDS.deferredFailure, reason);
    assert.equal((await Job.fromId<Data>(queue, job.id as string))?.deferredFailure, reason);
  });

  test('meta is a hash, events a stream, and the marker a sorted set', async () => {
    const { bull, redis, queue } = await fresh();
    await h.add('marked');
    assert.deepEqual(await Promise.all([bull.events, bull.marker].map((k) => redis.type(k))), ['stream', 'zset']);
    await queue.pause();
    assert.equal(await redis.type(bull.meta), 'hash');
    assert.equal(await redis.hget(bull.meta, 'paused'), '1');
  });
});
