/**
 * The API's scrape-time gauges the alerts stand on: sbx_workers{state} judged from the heartbeats and
 * self-checks in Redis as /readyz judges them, and sbx_api_redis_up, which must read 0 within its
 * bound (not hang the scrape) when Redis is gone. A Redis of the test's own, so it can be killed.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { redisKeys, type WorkerHealth } from '@sbx/shared';
import { Redis } from 'ioredis';
import { pollUntil, sleep } from '../support/poll.js';
import { freePort } from '../support/ports.js';
import { startRedis, stopRedis } from '../support/redis-server.js';
import { type Stack, startStack } from '../support/stack.js';

const health = (over: Partial<WorkerHealth>): string =>
  JSON.stringify({ ok: true, failures: [], checked_at: new Date().toISOString(), runtime: null, ...over });

describe('API health gauges read at scrape time', () => {
  let redisProcess: ChildProcess | null = null;
  let stack: Stack;
  let redis: Redis;
  let port = 0;

  before(async () => {
    port = await freePort();
    redisProcess = await startRedis(port);
    stack = await startStack({ worker: false, env: { SBX_REDIS_URL: `redis://127.0.0.1:${port}` } });
    redis = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => {});
  });
  after(async () => {
    redis.disconnect();
    // Back first: the API's queue connections would otherwise wait for Redis on close.
    redisProcess ??= await startRedis(port);
    // BullMQ's close waits for good on a connection caught mid-reconnect: close once the queue answers,
    // and its event stream (which has no such call) has had the same time and more to reconnect.
    await pollUntil(
      () =>
        stack.app.queue.getJobCounts().then(
          () => true,
          () => false,
        ),
      (ok) => ok,
      15_000,
      200,
    );
    await sleep(2000);
    await stack.app.close();
    await stopRedis(redisProcess);
  });

  const scrape = async () => {
    const started = performance.now();
    const text = await stack.app.metrics.registry.metrics();
    return { text, ms: performance.now() - started };
  };
  const gauge = (text: string, line: string) => Number(new RegExp(`^${line} (\\S+)$`, 'm').exec(text)?.[1]);

  test('workers by state: ready, starting, self-check failed, Docker away; a stale heartbeat counts for none', async () => {
    const keys = redisKeys(stack.config.prefix);
    const now = Date.now();
    await redis.zadd(keys.workers, now, 'ready-1', now, 'ready-2', now, 'starting', now, 'failed', now, 'dockerless');
    await redis.zadd(keys.workers, now - stack.config.workerStaleMs - 1000, 'stale');
    await redis.hset(keys.workerHealth, {
      'ready-1': health({}),
      'ready-2': health({ skipped: true }),
      failed: health({ ok: false, failures: [{ check: 'network', detail: 'reachable' }] }),
      dockerless: health({ docker_unreachable: true }),
      stale: health({}),
    });
    const { text } = await scrape();
    assert.deepEqual(
      ['ready', 'starting', 'self_check_failed', 'docker_unreachable'].map((s) =>
        gauge(text, `sbx_workers\\{state="${s}"\\}`),
      ),
      [2, 1, 1, 1],
    );
    assert.equal(gauge(text, 'sbx_api_redis_up'), 1);
    // /readyz agrees on what is ready.
    const ready = await stack.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.json().workers, 2);
  });

  test('Redis gone: sbx_api_redis_up reads 0 and the scrape still answers within its bound; back, 1 again', async () => {
    await stopRedis(redisProcess);
    redisProcess = null;
    const { text, ms } = await scrape();
    assert.equal(gauge(text, 'sbx_api_redis_up'), 0);
    assert.ok(ms < 3000, `the scrape took ${Math.round(ms)} ms`);
    // The last known worker counts stand rather than the scrape failing.
    assert.equal(gauge(text, 'sbx_workers\\{state="ready"\\}'), 2);

    // Back again: the API reconnects by itself and the gauge says so.
    redisProcess = await startRedis(port);
    const { value: back } = await pollUntil(
      async () => gauge((await scrape()).text, 'sbx_api_redis_up'),
      (up) => up === 1,
      20_000,
      250,
    );
    assert.equal(back, 1, 'reads 1 once Redis answers again');
  });
});
