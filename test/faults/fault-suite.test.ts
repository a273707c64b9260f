/**
 * The fault suite: each fault injected in the middle of a burst of mixed jobs (ok, timeouts,
 * memory bombs, output floods, test-case jobs). Afterwards every accepted job has completed exactly
 * once with exactly the verdict its program earns (a fault may cost a job a rerun, never its
 * verdict), the service is ready again by itself within READY_WITHIN_MS, and no container or runsc
 * process of the deployment is left (test/support/fault-checks.ts). The dockerd restarts are in docker-restart.test.ts.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { SbxClient } from '@sbx/client';
import { LABELS } from '@sbx/worker';
import Docker from 'dockerode';
import { CompletionCount } from '../support/burst.js';
import { assertCompletedOnce, assertJanitorCleared, assertNothingLeft, Burst } from '../support/fault-checks.js';
import { eventually, pollUntil, sleep } from '../support/poll.js';
import { freePort } from '../support/ports.js';
import { startRedis, stopRedis } from '../support/redis-server.js';
import { startStack } from '../support/stack.js';
import { spawnApi, spawnWorker, stopWorker } from '../support/worker-process.js';

const docker = new Docker();
const BURST = 21;
// Quiet: the faults make the worker log every retry, which is what it should do and noise here.
const QUIET = { SBX_LOG_LEVEL: 'fatal', SBX_WORKER_CONCURRENCY: '2' };

/** Waits until `n` of the deployment's sandboxes are running a job (of `among`, if given); their containers. */
async function runningSandboxes(prefix: string, n: number, among?: Set<string>) {
  const { value } = await pollUntil(
    async () =>
      (await docker.listContainers({ filters: { label: [`${LABELS.prefix}=${prefix}`], status: ['running'] } })).filter(
        (c) => !among || among.has(c.Labels[LABELS.job] ?? ''),
      ),
    (list) => list.length >= n,
    30_000,
    50,
  );
  assert.ok(value.length >= n, `${n} sandboxes running`);
  return value;
}

describe('the fault suite: every fault mid-burst', () => {
  test('containerd SIGKILLed (dockerd starts it again)', async () => {
    // The janitor sweeps this often: a removal Docker made while containerd was away leaves
    // containerd's sandbox behind, and the worker must clear it while it runs.
    const stack = await startStack({ env: { ...QUIET, SBX_WORKER_STALE_MS: '2000' } });
    let burst: Burst | null = null;
    try {
      burst = await Burst.submit(stack, BURST);
      await runningSandboxes(stack.config.prefix, 1);
      await sleep(400);
      execFileSync('pkill', ['-KILL', '-x', 'containerd']);
      assert.ok(
        await eventually(
          () => execFileSync('sh', ['-c', 'pgrep -x containerd || true']).toString() !== '',
          30_000,
          200,
        ),
        'dockerd restarted containerd',
      );
      await burst.assertSurvived();
      // Forgotten sandboxes are left alone for their first 10 s (containerd-orphans.ts MIN_AGE_MS).
      await assertJanitorCleared(stack.config.prefix, 30_000);
    } finally {
      await burst?.close();
      await stack.stop();
    }
    await assertNothingLeft(stack.config.prefix);
  });

  test('the runsc sandbox processes of two running jobs SIGKILLed on the host', async () => {
    const stack = await startStack({ env: QUIET });
    let burst: Burst | null = null;
    try {
      burst = await Burst.submit(stack, BURST);
      const { jobs, ids } = burst;
      // Jobs that sleep 0.8 s: killed 600 ms after their sandbox is seen running, they are mid-run.
      const sleepers = new Set(ids.filter((_, i) => String(jobs[i]?.body.code).includes('time.sleep')));
      // One at a time: two slots rarely hold two sleepers at once, and a finished sandbox is removed
      // within two seconds, so waiting for two together could outlast the burst.
      const victims: Awaited<ReturnType<typeof runningSandboxes>> = [];
      while (victims.length < 2) {
        const left = new Set([...sleepers].filter((id) => !victims.some((v) => v.Labels[LABELS.job] === id)));
        const [victim] = await runningSandboxes(stack.config.prefix, 1, left);
        if (!victim) break;
        await sleep(600);
        const pid = (await docker.getContainer(victim.Id).inspect()).State.Pid;
        if (pid > 0) process.kill(pid, 'SIGKILL');
        victims.push(victim);
      }
      const views = await burst.assertSurvived();
      // A sandbox killed before its harness was ready is started again within the same attempt;
      // one killed mid-program costs the job a run. At least one of the two was mid-program.
      const touched = views.filter((v) => victims.some((c) => c.Labels[LABELS.job] === v.id));
      assert.ok(
        touched.some((v) => (v.result?.attempts ?? 0) >= 2),
        `a killed job ran again: ${touched.map((v) => v.result?.attempts)}`,
      );
    } finally {
      await burst?.close();
      await stack.stop();
    }
    await assertNothingLeft(stack.config.prefix);
  });

  test('the worker SIGKILLed three times during one burst, restarted each time as npm run up does', async () => {
    // Short lock and staleness windows so each takeover happens in seconds.
    const env = {
      ...QUIET,
      SBX_LOCK_DURATION_MS: '3000',
      SBX_STALLED_INTERVAL_MS: '1000',
      SBX_HEARTBEAT_MS: '300',
      SBX_WORKER_STALE_MS: '1500',
    };
    const stack = await startStack({ worker: false, env });
    let burst: Burst | null = null;
    const workerEnv = {
      ...env,
      SBX_REDIS_URL: stack.config.redisUrl,
      SBX_PREFIX: stack.config.prefix,
      SBX_QUEUE: stack.config.queueName,
      // One id across restarts, as infra/up.sh gives it: a restarted worker removes what it left.
      SBX_WORKER_ID: `${stack.config.workerId}-supervised`,
      SBX_SELF_CHECK: 'off',
      SBX_POOL_MIN: '0',
      SBX_POOL_MAX: '0',
    };
    let worker: ChildProcess | null = null;
    try {
      burst = await Burst.submit(stack, BURST);
      worker = await spawnWorker(workerEnv);
      for (let kill = 0; kill < 3; kill++) {
        await runningSandboxes(stack.config.prefix, 1);
        await sleep(500);
        await stopWorker(worker, 'SIGKILL');
        worker = await spawnWorker(workerEnv);
      }
      const views = await burst.assertSurvived();
      assert.ok(
        views.some((v) => (v.result?.attempts ?? 0) >= 2),
        'the jobs the kills touched ran again',
      );
    } finally {
      if (worker) await stopWorker(worker);
      await burst?.close();
      await stack.stop();
    }
    await assertNothingLeft(stack.config.prefix);
  });

  test('the API SIGKILLed while POST /run callers wait: their idempotent retries get the one result', async () => {
    const stack = await startStack({ env: QUIET });
    const count = new CompletionCount(stack.config.redisUrl, stack.config.queueName, stack.config.prefix);
    const port = await freePort();
    const apiEnv = {
      ...QUIET,
      SBX_REDIS_URL: stack.config.redisUrl,
      SBX_PREFIX: stack.config.prefix,
      SBX_QUEUE: stack.config.queueName,
      SBX_API_HOST: '127.0.0.1',
      SBX_API_PORT: String(port),
    };
    let api: ChildProcess | null = await spawnApi(apiEnv);
    try {
      await count.ready();
      const client = new SbxClient({ baseUrl: `http://127.0.0.1:${port}` });
      const callers = Array.from({ length: 6 }, (_, i) =>
        client.run(
          { code: `import time\ntime.sleep(1.5)\nprint(${i})` },
          // Enough retries to span the API's restart (about 2 s) with the client's backoff.
          { retries: 8, timeoutMs: 90_000 },
        ),
      );
      await runningSandboxes(stack.config.prefix, 1);
      await stopWorker(api, 'SIGKILL');
      await sleep(500);
      api = await spawnApi(apiEnv);
      const results = await Promise.all(callers);
      assert.deepEqual(
        results.map((r) => [r.status, r.stdout]),
        Array.from({ length: 6 }, (_, i) => ['ok', `${i}\n`]),
      );
      const counts = await stack.app.queue.getJobCounts();
      assert.equal(counts.completed, 6, `one job per caller, not one per retry: ${JSON.stringify(counts)}`);
      const ids = results.map((r) => r.id);
      assert.equal(new Set(ids).size, 6);
      await assertCompletedOnce(count, ids);
    } finally {
      if (api) await stopWorker(api);
      await count.close();
      await stack.stop();
    }
    await assertNothingLeft(stack.config.prefix);
  });

  test('Redis SIGKILLed mid-burst and restarted from its append-only file', async () => {
    const port = await freePort();
    const dataDir = await mkdtemp(join(tmpdir(), 'sbx-redis-'));
    let redis: ChildProcess | null = await startRedis(port, dataDir);
    const redisUrl = `redis://127.0.0.1:${port}`;
    const stack = await startStack({ env: { ...QUIET, SBX_REDIS_URL: redisUrl } });
    let burst: Burst | null = null;
    try {
      burst = await Burst.submit(stack, BURST);
      await runningSandboxes(stack.config.prefix, 1);
      await sleep(400);
      await stopRedis(redis);
      await sleep(1500);
      redis = await startRedis(port, dataDir);
      await burst.assertSurvived();
    } finally {
      await burst?.close();
      await stack.stop();
      await stopRedis(redis);
      await rm(dataDir, { recursive: true, force: true });
    }
    await assertNothingLeft(stack.config.prefix);
  });
});
