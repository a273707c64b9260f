import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventually, pollJob, sleep } from '../support/poll.js';
import { freePort } from '../support/ports.js';
import { startRedis, stopRedis } from '../support/redis-server.js';
import { type Stack, startStack } from '../support/stack.js';
import { spawnWorker, stopWorker } from '../support/worker-process.js';

describe('Redis goes away under the API, and comes back', () => {
  let port: number;
  let redis: ChildProcess | null = null;
  let stack: Stack;
  before(async () => {
    port = await freePort();
    redis = await startRedis(port);
    stack = await startStack({ worker: false, env: { SBX_REDIS_URL: `redis://127.0.0.1:${port}` } });
  });
  after(async () => {
    if (redis?.exitCode !== null) redis = await startRedis(port);
    await stack.app.close();
    await stopRedis(redis);
  });

  const submit = () => stack.app.inject({ method: 'POST', url: '/jobs', payload: { code: 'print(1)' } });

  test('while it is down: a prompt 503 queue_unavailable, never a hang or a 500; /readyz says why', async () => {
    assert.equal((await submit()).statusCode, 202);
    await stopRedis(redis);
    const started = performance.now();
    const refused = await submit();
    assert.equal(refused.statusCode, 503, refused.body);
    assert.equal(refused.json().code, 'queue_unavailable');
    assert.match(refused.json().message, /nothing was queued/);
    assert.ok(performance.now() - started < 5000, 'answered promptly');
    const ready = await stack.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 503);
    assert.equal(ready.json().reason, 'redis is unreachable');
  });

  test('once it is back the API recovers by itself', async () => {
    redis = await startRedis(port);
    assert.ok(await eventually(async () => (await submit()).statusCode === 202, 15_000, 200), 'accepting jobs again');
  });
});

describe('Redis is killed while a job runs, and restarts from its append-only file', () => {
  let port: number;
  let dataDir: string;
  let redis: ChildProcess | null = null;
  let stack: Stack;
  let worker: ChildProcess | null = null;
  before(async () => {
    port = await freePort();
    dataDir = await mkdtemp(join(tmpdir(), 'sbx-redis-'));
    redis = await startRedis(port, dataDir);
    const redisUrl = `redis://127.0.0.1:${port}`;
    stack = await startStack({ worker: false, env: { SBX_REDIS_URL: redisUrl } });
    // Its own process: what matters at the end is that the real entry point exits on SIGTERM.
    worker = await spawnWorker({
      SBX_REDIS_URL: redisUrl,
      SBX_PREFIX: stack.config.prefix,
      SBX_QUEUE: stack.config.queueName,
      SBX_WORKER_ID: 'outage-worker',
      SBX_SELF_CHECK: 'off',
      SBX_POOL_MIN: '0',
      SBX_POOL_MAX: '0',
      SBX_SHUTDOWN_TIMEOUT_MS: '3000',
    });
  });
  after(async () => {
    if (worker) await stopWorker(worker, 'SIGKILL');
    if (redis?.exitCode !== null) redis = await startRedis(port, dataDir);
    await stack.app.close();
    await stopRedis(redis);
    await rm(dataDir, { recursive: true, force: true });
  });

  test('the job is not lost: it completes once Redis is back', async () => {
    const res = await stack.app.inject({
      method: 'POST',
      url: '/jobs',
      payload: { code: 'import time\ntime.sleep(1)\nprint("survived")' },
    });
    assert.equal(res.statusCode, 202);
    const { id } = res.json();
    assert.equal((await pollJob(stack.app, id, (v) => v.state === 'running', 15_000)).state, 'running');
    await stopRedis(redis);
    await sleep(1500);
    redis = await startRedis(port, dataDir);
    const view = await pollJob(stack.app, id, (v) => v.state === 'completed', 60_000, 200);
    assert.equal(view.state, 'completed');
    assert.equal(view.result?.status, 'ok', JSON.stringify(view.result));
    assert.equal(view.result?.stdout, 'survived\n');
  });

  test('and the worker still exits on SIGTERM, in bounded time', async () => {
    // BullMQ may hold a job it could not finish during the outage in flight for good: stop must not wait on it.
    const started = performance.now();
    const code = worker ? await stopWorker(worker) : null;
    const seconds = (performance.now() - started) / 1000;
    assert.equal(code, 0);
    assert.ok(seconds < 15, `exited in ${seconds.toFixed(1)} s`);
  });
});
