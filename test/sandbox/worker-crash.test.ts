import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { JobState } from '@sbx/shared';
import { LABELS } from '@sbx/worker';
import Docker from 'dockerode';
import { pollJob, pollUntil, sleep } from '../support/poll.js';
import { type Stack, startStack } from '../support/stack.js';
import { spawnWorker, stopWorker } from '../support/worker-process.js';

const docker = new Docker();
async function waitForState(stack: Stack, id: string, state: JobState, timeoutMs: number) {
  const view = await pollJob(stack.app, id, (v) => v.state === state, timeoutMs, 50);
  if (view.state !== state) throw new Error(`job ${id} did not reach ${state} within ${timeoutMs} ms`);
  return view;
}

describe('a worker killed mid-job loses no job', () => {
  let stack: Stack;
  // Short lock and staleness windows so the takeover happens in seconds, not the production tens of seconds.
  const env = {
    SBX_LOCK_DURATION_MS: '3000',
    SBX_STALLED_INTERVAL_MS: '1000',
    SBX_HEARTBEAT_MS: '300',
    SBX_WORKER_STALE_MS: '1500',
  };
  before(async () => {
    stack = await startStack({ worker: false, env });
  });
  after(async () => {
    await stack.stop();
  });

  test('SIGKILL during a run: the job completes on a restarted worker, once, and the orphan container goes', async () => {
    const workerEnv = {
      ...env,
      SBX_REDIS_URL: stack.config.redisUrl,
      SBX_PREFIX: stack.config.prefix,
      SBX_QUEUE: stack.config.queueName,
    };
    const first = await spawnWorker({ ...workerEnv, SBX_WORKER_ID: 'doomed-worker' });
    const res = await stack.app.inject({
      method: 'POST',
      url: '/jobs',
      payload: { code: 'import time\nprint("started", flush=True)\ntime.sleep(1.2)\nprint("finished")' },
    });
    assert.equal(res.statusCode, 202);
    const { id } = res.json();
    await waitForState(stack, id, 'running', 15_000);
    // Let the sandbox start so there is a container to orphan.
    await sleep(700);
    await stopWorker(first, 'SIGKILL');
    const orphans = await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.worker}=doomed-worker`] },
    });
    assert.ok(orphans.length >= 1, 'the killed worker left its sandbox behind');

    const second = await spawnWorker({ ...workerEnv, SBX_WORKER_ID: 'rescue-worker' });
    try {
      const view = await waitForState(stack, id, 'completed', 30_000);
      assert.equal(view.result?.status, 'ok', JSON.stringify(view.result));
      assert.equal(view.result.stdout, 'started\nfinished\n');
      // The rescuer's janitor removes the dead worker's container once its heartbeat is stale.
      const left = await pollUntil(
        async () =>
          (await docker.listContainers({ all: true, filters: { label: [`${LABELS.worker}=doomed-worker`] } })).length,
        (count) => count === 0,
        10_000,
        200,
      );
      assert.equal(left.value, 0, 'orphaned sandbox was removed');
    } finally {
      assert.equal(await stopWorker(second), 0, 'SIGTERM stops the worker cleanly');
    }
  });
});

describe('SIGTERM drains a worker', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ worker: false });
  });
  after(async () => {
    await stack.stop();
  });

  test('an in-flight job finishes, then the worker exits 0 and deregisters', async () => {
    const worker = await spawnWorker({
      SBX_REDIS_URL: stack.config.redisUrl,
      SBX_PREFIX: stack.config.prefix,
      SBX_QUEUE: stack.config.queueName,
      SBX_WORKER_ID: 'draining-worker',
    });
    const res = await stack.app.inject({
      method: 'POST',
      url: '/jobs',
      payload: { code: 'import time\ntime.sleep(1)\nprint("drained")' },
    });
    const { id } = res.json();
    await waitForState(stack, id, 'running', 15_000);
    assert.equal(await stopWorker(worker, 'SIGTERM'), 0);
    const view = (await stack.app.inject({ method: 'GET', url: `/jobs/${id}` })).json();
    assert.equal(view.state, 'completed');
    assert.equal(view.result.stdout, 'drained\n');
    const ready = (await stack.app.inject({ method: 'GET', url: '/readyz' })).json();
    assert.equal(ready.workers, 0);
  });
});
