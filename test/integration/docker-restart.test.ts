/**
 * The Docker engine restarted under a burst, as a package upgrade does: dockerd SIGTERMed mid-run
 * (it stops every container), down for two seconds, started again by ensure-host.sh. The user sees
 * a delay and nothing else: every job ends with exactly the verdict its program earns, the worker
 * lives on, says "docker unreachable" while the engine is away, and is ready again by itself.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { JobView } from '@sbx/shared';
import { eventually, pollUntil, sleep } from '../support/poll.js';
import { startStack } from '../support/stack.js';

const ENSURE_HOST = fileURLToPath(new URL('../../infra/host/ensure-host.sh', import.meta.url));
const dockerdRunning = () => execFileSync('sh', ['-c', 'pgrep -x dockerd || true'], { encoding: 'utf8' }).trim() !== '';

const JOBS: { code: string; status: string; stdout?: string }[] = [
  ...Array.from({ length: 6 }, (_, i) => ({
    code: `import time\ntime.sleep(1.2)\nprint(${i})`,
    status: 'ok',
    stdout: `${i}\n`,
  })),
  { code: 'while True: pass', status: 'timeout' },
  { code: 'x = bytearray(150 * 2**20)\nx[-1] = 1', status: 'memory_limit' },
  ...Array.from({ length: 4 }, (_, i) => ({ code: `print(${i} * 3)`, status: 'ok', stdout: `${i * 3}\n` })),
];

/** Stops dockerd (SIGTERM: it stops every container) and waits until it is gone. */
async function stopDockerd(): Promise<void> {
  execFileSync('pkill', ['-TERM', '-x', 'dockerd']);
  assert.ok(await eventually(() => !dockerdRunning(), 30_000, 100), 'dockerd stopped');
}

describe('a dockerd restart under a burst', () => {
  test('costs a delay, never a wrong verdict or a dead worker', async () => {
    // The outage makes every pool refill fail and say so each second: not worth the test's output.
    const stack = await startStack({
      env: { SBX_POOL_MIN: '2', SBX_POOL_MAX: '4', SBX_WORKER_CONCURRENCY: '2', SBX_LOG_LEVEL: 'fatal' },
    });
    try {
      const ids: string[] = [];
      for (const job of JOBS) {
        const res = await stack.app.inject({ method: 'POST', url: '/jobs', payload: { code: job.code } });
        assert.equal(res.statusCode, 202);
        ids.push(res.json().id);
      }
      // Two jobs are mid-run when the engine goes.
      await sleep(1500);
      await stopDockerd();
      const away = await pollUntil(
        async () => (await stack.app.inject({ method: 'GET', url: '/readyz' })).json(),
        (r) => /^docker unreachable/.test(r.reason ?? ''),
        10_000,
        100,
      );
      assert.match(away.value.reason ?? '', /^docker unreachable/, JSON.stringify(away.value));
      await sleep(2000);
      execFileSync('bash', [ENSURE_HOST], { stdio: 'ignore' });

      const { value: views } = await pollUntil(
        async () =>
          Promise.all(
            ids.map(async (id) => (await stack.app.inject({ method: 'GET', url: `/jobs/${id}` })).json() as JobView),
          ),
        (vs) => vs.every((v) => v.state === 'completed'),
        120_000,
        250,
      );
      const wrong = views
        .map((v, i) => ({ v, want: JOBS[i] }))
        .filter(
          ({ v, want }) => v.result?.status !== want?.status || (want?.stdout && v.result?.stdout !== want.stdout),
        )
        .map(
          ({ v, want }) => `${want?.code.split('\n').pop()}: ${v.state} ${v.result?.status} ${v.result?.message ?? ''}`,
        );
      assert.deepEqual(wrong, [], 'every job has the verdict its program earns');
      assert.ok(
        views.some((v) => (v.result?.attempts ?? 0) > 1),
        'the jobs the restart touched say they ran again',
      );

      const ready = await pollUntil(
        async () => (await stack.app.inject({ method: 'GET', url: '/readyz' })).statusCode,
        (s) => s === 200,
        30_000,
        250,
      );
      assert.equal(ready.value, 200, 'ready again by itself');
      const metrics = (await stack.worker?.metrics.registry.metrics()) ?? '';
      assert.match(metrics, /^sbx_docker_outages_total [1-9]/m);
      assert.match(metrics, /^sbx_docker_up 1$/m);
      const after = await stack.app.inject({ method: 'POST', url: '/run', payload: { code: 'print("after")' } });
      assert.equal(after.json().stdout, 'after\n', 'the same worker serves new jobs');
    } finally {
      await stack.stop();
      // Whatever happened above, the rest of the suite needs its engine.
      execFileSync('bash', [ENSURE_HOST], { stdio: 'ignore' });
    }
  });

  test('an engine away past SBX_DOCKER_WAIT_MS: a job queued meanwhile ends internal_error saying so', async () => {
    const stack = await startStack({ env: { SBX_DOCKER_WAIT_MS: '3000', SBX_LOG_LEVEL: 'fatal' } });
    try {
      await stopDockerd();
      const res = await stack.app.inject({ method: 'POST', url: '/jobs', payload: { code: 'print(1)' } });
      const { value } = await pollUntil(
        async () => (await stack.app.inject({ method: 'GET', url: `/jobs/${res.json().id}` })).json() as JobView,
        (v) => v.state === 'completed',
        20_000,
        250,
      );
      assert.equal(value.result?.status, 'internal_error');
      assert.match(value.result?.message ?? '', /no Docker engine answered within 3 s of the job being queued/);
    } finally {
      execFileSync('bash', [ENSURE_HOST], { stdio: 'ignore' });
      await stack.stop();
    }
  });
});
