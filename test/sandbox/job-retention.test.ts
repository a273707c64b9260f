/**
 * What Redis keeps of a finished job: its code, input and output live in its stored result and
 * nowhere else, but for its live events (at most 10 minutes more). BullMQ's completed and failed
 * copies (kept 1 h and 24 h) keep only the job's receipt.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { BULL_JOB_FIELDS, bullKeys, EVENTS_AFTER_RESULT_SECONDS, type JobView, redisKeys } from '@sbx/shared';
import { createWorkerService, type WorkerService } from '@sbx/worker';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { pollJob } from '../support/poll.js';
import { REDIS_URL, type Stack, startStack } from '../support/stack.js';

/** Every value of one key, whatever its type, as text to search. */
async function contentOf(redis: Redis, key: string): Promise<string> {
  switch (await redis.type(key)) {
    case 'string':
      return (await redis.get(key)) ?? '';
    case 'hash':
      return JSON.stringify(await redis.hgetall(key));
    case 'list':
      return JSON.stringify(await redis.lrange(key, 0, -1));
    case 'set':
      return JSON.stringify(await redis.smembers(key));
    case 'zset':
      return JSON.stringify(await redis.zrange(key, '0', '-1', 'WITHSCORES'));
    case 'stream':
      return JSON.stringify(await redis.xrange(key, '-', '+'));
    default:
      return '';
  }
}

async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found.sort();
}

const STALLED = 'job stalled more than allowable limit';

describe("BullMQ's copies of finished jobs keep no code, input or output", () => {
  let stack: Stack;
  let worker: WorkerService | undefined;
  const redis = new Redis(REDIS_URL);
  // Random, so nothing else in Redis can hold them by chance. Each program builds its output marker
  // from pieces: the code never holds the output, so a hit says which one was kept.
  const tag = randomBytes(6).toString('hex');
  const marker = (what: string) => `${what}-marker-${tag}`;
  const printsOutput = `print("output" + "-marker-" + "${tag}")  # ${marker('code')}`;
  const ids: Record<'plain' | 'tests' | 'failed' | 'stalled', string> = {
    plain: '',
    tests: '',
    failed: '',
    stalled: '',
  };

  const submit = async (payload: Record<string, unknown>) => {
    const res = await stack.app.inject({ method: 'POST', url: '/jobs', payload });
    assert.equal(res.statusCode, 202, res.body);
    return res.json().id as string;
  };
  const finished = (id: string) => pollJob(stack.app, id, (v) => v.state === 'completed', 60_000, 100);
  // A job failed for good is answered from BullMQ's failed state until the worker's 'failed' handler
  // has stored its result (which says how many attempts it took): wait for the stored one.
  const stored = (id: string) =>
    pollJob(stack.app, id, (v) => v.state === 'completed' && v.result?.attempts !== undefined, 60_000, 100);

  before(async () => {
    // The API serves python-data, the worker has only python: a python-data job fails every attempt
    // (the worker has no sandbox for it), cheaply and for good. Queued before the worker is live,
    // since the API refuses an environment no live worker has.
    stack = await startStack({ worker: false, env: { SBX_ENVIRONMENTS: 'python,python-data' } });
    ids.failed = await submit({
      code: printsOutput,
      stdin: `${marker('failed-stdin')}\n`,
      environment: 'python-data',
    });
    // A job that stalled too often, as BullMQ marks it (moveStalledJobsToWait): the next worker to take
    // it fails it for good on its first attempt, without running it.
    ids.stalled = await submit({ code: printsOutput, stdin: `${marker('stalled-stdin')}\n` });
    const bull = bullKeys(stack.config.prefix, stack.config.queueName);
    await redis.hset(bull.job(ids.stalled), BULL_JOB_FIELDS.deferredFailure, STALLED);
    worker = createWorkerService({ ...stack.config, environments: ['python'] }, pino({ level: 'silent' }));
    await worker.start();
    ids.plain = await submit({
      code: `import sys\ndata = sys.stdin.read()\nassert "${tag}" in data\n${printsOutput}`,
      stdin: `${marker('stdin')}\n`,
      args: [marker('args')],
    });
    ids.tests = await submit({
      code: printsOutput,
      tests: [
        { stdin: marker('test-stdin'), args: [marker('test-args')], expected_output: marker('expected') },
        { stdin: '', expected_output: `${marker('output')}\n` },
      ],
    });
  });
  after(async () => {
    await worker?.stop();
    await stack.stop();
    redis.disconnect();
  });

  test('the results are whole: GET /jobs/:id answers them as stored', async () => {
    const plain = (await finished(ids.plain)) as JobView;
    assert.equal(plain.result?.status, 'ok', JSON.stringify(plain.result));
    assert.equal(plain.result?.stdout, `${marker('output')}\n`);
    const tests = (await finished(ids.tests)) as JobView;
    assert.deepEqual(
      tests.result?.tests?.map((t) => t.verdict),
      ['wrong_answer', 'accepted'],
    );
    const failed = (await stored(ids.failed)) as JobView;
    assert.equal(failed.result?.status, 'internal_error');
    assert.match(failed.result?.message ?? '', /environment python-data is not built on worker/);
    assert.equal(failed.result?.attempts, 3, 'ended after its last attempt, not at a retried one');
    const stalled = (await stored(ids.stalled)) as JobView;
    assert.equal(stalled.result?.status, 'internal_error');
    assert.equal(stalled.result?.message, `the job could not be run: ${STALLED}`);
  });

  test('BullMQ still has its copies, holding only the receipt', async () => {
    const states = await Promise.all(
      Object.values(ids).map(async (id) => (await stack.app.queue.getJob(id))?.getState()),
    );
    assert.deepEqual(states, ['completed', 'completed', 'failed', 'failed']);
    const failed = await stack.app.queue.getJob(ids.failed);
    // What GET /jobs/:id would make of a failed job whose result is gone.
    assert.equal(failed?.data.environment, 'python-data');
    assert.deepEqual(failed?.data.limits, { time_ms: 2000, memory_mb: 128 });
    assert.ok(failed?.data.submitted_at);
    for (const id of Object.values(ids)) {
      const data = (await stack.app.queue.getJob(id))?.data ?? {};
      assert.deepEqual(
        ['code', 'stdin', 'args', 'tests'].filter((f) => f in data),
        [],
        id,
      );
    }
  });

  test('no key but the results holds a marker: not the job hashes, their events, logs or anything else', async () => {
    const { prefix, queueName } = stack.config;
    const keys = await keysUnder(redis, prefix);
    // Proof the scan sees what it must judge: BullMQ's job hashes and its events stream.
    const bull = bullKeys(prefix, queueName);
    for (const id of Object.values(ids)) assert.ok(keys.includes(bull.job(id)), id);
    assert.ok(keys.includes(bull.events));
    // The stored result holds the output (its stdout, a test's expected output) for SBX_RESULT_TTL_SECONDS:
    // that is what it is for, and the one key that may.
    const results = new Set(Object.values(ids).map(redisKeys(prefix).result));
    assert.match(await contentOf(redis, redisKeys(prefix).result(ids.plain)), new RegExp(marker('output')));
    // A job's live events hold its output too, for a viewer that comes late or resumes: no longer
    // than EVENTS_AFTER_RESULT_SECONDS once the result is stored (then they are rebuilt from it).
    const streams = new Set(Object.values(ids).map(redisKeys(prefix).events));
    assert.match(await contentOf(redis, redisKeys(prefix).events(ids.plain)), new RegExp(marker('output')));
    for (const key of streams) {
      const ttl = await redis.ttl(key); // -2: no stream (a job that never ran)
      assert.ok(ttl === -2 || (ttl > 0 && ttl <= EVENTS_AFTER_RESULT_SECONDS), `${key}: TTL ${ttl} s`);
    }
    const hits: string[] = [];
    for (const key of keys.filter((k) => !results.has(k) && !streams.has(k))) {
      const found = (await contentOf(redis, key)).match(new RegExp(`[a-z-]+-marker-${tag}`, 'g'));
      if (found) hits.push(`${key}: ${[...new Set(found)].join(', ')}`);
    }
    assert.deepEqual(hits, []);
  });
});
