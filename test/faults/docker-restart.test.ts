/**
 * The Docker engine restarted under a burst of mixed jobs, as a package upgrade does (SIGTERM: it
 * stops every container) or a crash would (SIGKILL), down for two seconds, started again by
 * ensure-host.sh. The user sees a delay and nothing else: every job completes once, with exactly
 * the verdict its program earns; the worker lives on, says "docker unreachable" while the engine is
 * away, is ready again by itself, and nothing of the deployment is left on the host. The rest of
 * the fault suite is in fault-suite.test.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { JobView } from '@sbx/shared';
import { assertJanitorCleared, assertNothingLeft, Burst } from '../support/fault-checks.js';
import { eventually, pollUntil, sleep } from '../support/poll.js';
import { startStack } from '../support/stack.js';

const ENSURE_HOST = fileURLToPath(new URL('../../infra/host/ensure-host.sh', import.meta.url));
const dockerdRunning = () => execFileSync('sh', ['-c', 'pgrep -x dockerd || true'], { encoding: 'utf8' }).trim() !== '';

/** Stops dockerd with `signal` (SIGTERM: it stops every container first) and waits until it is gone. */
async function stopDockerd(signal: 'TERM' | 'KILL' = 'TERM'): Promise<void> {
  execFileSync('pkill', [`-${signal}`, '-x', 'dockerd']);
  assert.ok(await eventually(() => !dockerdRunning(), 30_000, 100), 'dockerd stopped');
}

describe('a dockerd restart under a burst', () => {
  for (const signal of ['TERM', 'KILL'] as const)
    test(`dockerd SIG${signal}ed and started again: a delay, never a wrong verdict or a dead worker`, async () => {
      // The outage makes every pool refill fail and say so each second: not worth the test's output.
      const stack = await startStack({
        env: {
          SBX_POOL_MIN: '2',
          SBX_POOL_MAX: '4',
          SBX_WORKER_CONCURRENCY: '2',
          SBX_LOG_LEVEL: process.env.SBX_TEST_LOG_LEVEL ?? 'fatal',
          // The janitor sweeps this often: what the engine's restart left must go while the worker runs.
          SBX_WORKER_STALE_MS: '2000',
        },
      });
      let burst: Burst | null = null;
      try {
        burst = await Burst.submit(stack);
        // Jobs are mid-run when the engine goes.
        await sleep(1500);
        await stopDockerd(signal);
        const away = await pollUntil(
          async () => (await stack.app.inject({ method: 'GET', url: '/readyz' })).json(),
          (r) => /^docker unreachable/.test(r.reason ?? ''),
          10_000,
          100,
        );
        assert.match(away.value.reason ?? '', /^docker unreachable/, JSON.stringify(away.value));
        await sleep(2000);
        execFileSync('bash', [ENSURE_HOST], { stdio: 'ignore' });

        const views = await burst.assertSurvived();
        assert.ok(
          views.some((v) => (v.result?.attempts ?? 0) > 1),
          'the jobs the restart touched say they ran again',
        );
        const metrics = (await stack.worker?.metrics.registry.metrics()) ?? '';
        assert.match(metrics, /^sbx_docker_outages_total [1-9]/m);
        assert.match(metrics, /^sbx_docker_up 1$/m);
        const after = await stack.app.inject({ method: 'POST', url: '/run', payload: { code: 'print("after")' } });
        assert.equal(after.json().stdout, 'after\n', 'the same worker serves new jobs');
        // A sandbox whose start the kill cut stays `created`: the janitor ends its runsc after 60 s.
        await assertJanitorCleared(stack.config.prefix, 90_000);
      } finally {
        await burst?.close();
        await stack.stop();
        // Whatever happened above, the rest of the suite needs its engine.
        execFileSync('bash', [ENSURE_HOST], { stdio: 'ignore' });
      }
      await assertNothingLeft(stack.config.prefix);
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
