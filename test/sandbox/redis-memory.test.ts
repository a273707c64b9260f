/**
 * Redis at its memory limit (maxmemory with noeviction, as `npm run up` runs it) while jobs run, tried
 * as an attacker or an unlucky operator would: every write the API makes is refused by Redis then. New
 * work must be turned away with 503 storage_full and a Retry-After, never a 500; jobs already running
 * must neither be lost nor get a verdict they did not earn, and once there is room again they finish
 * with their own result, from their first run.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { JobView } from '@sbx/shared';
import type { LightMyRequestResponse } from 'fastify';
import type { Redis } from 'ioredis';
import { pollJob, sleep } from '../support/poll.js';
import { freePort } from '../support/ports.js';
import { askRedis, startRedis, stopRedis } from '../support/redis-server.js';
import { type Stack, startStack } from '../support/stack.js';

/** Short, so that the time at the limit outlasts a lock several times over within the test. */
const LOCK_MS = 2000;
const AT_LIMIT_MS = 4 * LOCK_MS;

const usedMemory = async (c: Redis) => Number(/^used_memory:(\d+)/m.exec(await c.info('memory'))?.[1]);

/** Still running when Redis fills up, and well inside its time limit: its verdict is ok whenever it runs. */
const program = (word: string) => ({
  code: `import time\ntime.sleep(2)\nprint(${JSON.stringify(word)})`,
  limits: { time_ms: 4000 },
});

describe('Redis at maxmemory while jobs run', () => {
  let port: number;
  let redis: ChildProcess | null = null;
  let stack: Stack;
  before(async () => {
    port = await freePort();
    redis = await startRedis(port);
    stack = await startStack({
      env: {
        SBX_REDIS_URL: `redis://127.0.0.1:${port}`,
        SBX_SELF_CHECK: 'off',
        SBX_WORKER_CONCURRENCY: '2',
        SBX_LOCK_DURATION_MS: String(LOCK_MS),
        // A lapsed lock would be found within a second of there being room again.
        SBX_STALLED_INTERVAL_MS: '500',
        SBX_HEARTBEAT_MS: '500',
        SBX_WORKER_STALE_MS: String(LOCK_MS),
        SBX_MAX_TIME_MS: '4000',
        SBX_LOG_LEVEL: 'fatal',
      },
    });
  });
  after(async () => {
    await askRedis(port, (c) => c.config('SET', 'maxmemory', '0'));
    await stack.worker?.stop();
    await stack.app.close();
    await stopRedis(redis);
  });

  const inject = (
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    payload?: Record<string, unknown>,
    headers: Record<string, string> = {},
  ) => stack.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });

  const assertStorageFull = (res: LightMyRequestResponse, what: string) => {
    assert.equal(res.statusCode, 503, `${what}: ${res.body}`);
    assert.equal(res.json().code, 'storage_full', what);
    assert.equal(res.json().statusCode, 503, what);
    const retryAfter = Number(res.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `${what}: Retry-After ${res.headers['retry-after']}`);
  };

  test('writes get 503 storage_full, reads answer, nothing is a 500; running jobs finish with their own result', async () => {
    const ids: string[] = [];
    for (const word of ['first', 'second']) {
      const res = await inject('POST', '/jobs', program(word));
      assert.equal(res.statusCode, 202, res.body);
      ids.push(res.json().id);
    }
    for (const id of ids)
      assert.equal((await pollJob(stack.app, id, (v) => v.state === 'running', 20_000)).state, 'running', id);

    // The limit a little under what Redis holds: at it, and staying there whatever one refused write frees.
    await askRedis(port, async (c) => c.config('SET', 'maxmemory', String((await usedMemory(c)) - 256 * 1024)));
    const atLimitSince = Date.now();
    const answers: [string, LightMyRequestResponse][] = [];
    const attempt = async (what: string, res: Promise<LightMyRequestResponse>) => {
      const answer = await res;
      answers.push([what, answer]);
      return answer;
    };

    const body = { code: 'print(1)' };
    assertStorageFull(await attempt('POST /jobs', inject('POST', '/jobs', body)), 'POST /jobs');
    assertStorageFull(await attempt('POST /run', inject('POST', '/run', body)), 'POST /run');
    const batch = { jobs: [body, { code: 'print(2)' }, { code: 'print(3)' }] };
    assertStorageFull(await attempt('POST /jobs/batch', inject('POST', '/jobs/batch', batch)), 'POST /jobs/batch');
    const key = { 'idempotency-key': 'full-redis-1' };
    assertStorageFull(await attempt('POST /jobs keyed', inject('POST', '/jobs', body, key)), 'POST /jobs keyed');
    assertStorageFull(await attempt('POST /run keyed', inject('POST', '/run', body, key)), 'POST /run keyed');
    // Cancelling is a write too: refused, and the job it named runs on to its own verdict.
    assertStorageFull(await attempt('DELETE', inject('DELETE', `/jobs/${ids[0]}`)), 'DELETE /jobs/:id');
    for (let i = 0; i < 20; i++)
      assertStorageFull(await attempt('again', inject('POST', '/jobs', body)), `POST /jobs #${i}`);

    // Reads still answer.
    const view = await attempt('GET /jobs/:id', inject('GET', `/jobs/${ids[1]}`));
    assert.equal(view.statusCode, 200, view.body);
    assert.equal((await attempt('GET /jobs?ids', inject('GET', `/jobs?ids=${ids.join(',')}`))).statusCode, 200);
    assert.equal((await attempt('GET /info', inject('GET', '/info'))).statusCode, 200);
    // The worker's heartbeat still lands: it is not taken for dead (its sandboxes reaped by others).
    await sleep(2 * LOCK_MS);
    const ready = await attempt('GET /readyz', inject('GET', '/readyz'));
    assert.equal(ready.statusCode, 200, ready.body);

    const metrics = await stack.app.metrics.registry.metrics();
    const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1]);
    const max = gauge('sbx_redis_memory_max_bytes');
    assert.ok(max > 0 && gauge('sbx_redis_memory_used_bytes') > max, 'the gauges show Redis past its limit');
    assert.match(metrics, /^sbx_api_errors_total\{code="storage_full"\} [1-9]/m);

    // Stay at the limit for several lock durations: the programs end meanwhile and their results wait.
    await sleep(AT_LIMIT_MS - (Date.now() - atLimitSince));
    for (const id of ids) {
      const held = (await inject('GET', `/jobs/${id}`)).json() as JobView;
      assert.equal(held.state, 'running', `${id} is still its worker's while Redis is full: ${JSON.stringify(held)}`);
    }
    const fiveHundreds = answers.filter(([, r]) => r.statusCode >= 500 && r.json().code !== 'storage_full');
    assert.deepEqual(
      fiveHundreds.map(([what, r]) => `${what}: ${r.statusCode} ${r.body}`),
      [],
    );

    await askRedis(port, async (c) => c.config('SET', 'maxmemory', String((await usedMemory(c)) + 64 * 1024 * 1024)));
    for (const [id, word] of ids.map((id, i) => [id, i === 0 ? 'first' : 'second'] as const)) {
      const done = await pollJob(stack.app, id, (v) => v.state === 'completed', 20_000, 100);
      assert.equal(done.result?.status, 'ok', JSON.stringify(done));
      assert.equal(done.result?.stdout, `${word}\n`);
      // Its first run's result: not a rerun after a lock that lapsed while Redis was full.
      assert.equal(done.result?.attempts, 1, JSON.stringify(done.result));
    }
    // Nothing of the refused requests was queued: only the two jobs were ever in the queue.
    const counts = await stack.app.queue.getJobCounts();
    assert.deepEqual(
      Object.entries(counts).filter(([, n]) => n > 0),
      [['completed', 2]],
    );
  });

  test('with room again, the refused requests succeed as first tries (no key was left claimed)', async () => {
    // Room whatever the test before left (it raises the limit itself, unless it failed first).
    await askRedis(port, async (c) => c.config('SET', 'maxmemory', String((await usedMemory(c)) + 64 * 1024 * 1024)));
    const keyed = await inject('POST', '/run', { code: 'print(1)' }, { 'idempotency-key': 'full-redis-1' });
    assert.equal(keyed.statusCode, 200, keyed.body);
    assert.equal(keyed.headers['idempotent-replayed'], undefined);
    assert.equal(keyed.json().stdout, '1\n');
    const batch = await inject('POST', '/jobs/batch', { jobs: [{ code: 'print(2)' }] });
    assert.equal(batch.statusCode, 202, batch.body);
  });
});
