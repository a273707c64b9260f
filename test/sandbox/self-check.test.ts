import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GVISOR } from '@sbx/shared';
import { type Stack, startStack } from '../support/stack.js';

/**
 * The worker failed exactly `check`: /readyz says why (503, `reason`), and a job queued on the stack is
 * still queued 1.5 s later.
 */
async function assertRefused(stack: Stack, check: string, reason: RegExp): Promise<void> {
  assert.equal(stack.worker?.health?.ok, false);
  assert.deepEqual(
    stack.worker?.health?.failures.map((f) => f.check),
    [check],
  );
  const ready = await stack.app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(ready.statusCode, 503);
  assert.match(ready.json().reason, reason);
  const res = await stack.app.inject({ method: 'POST', url: '/jobs', payload: { code: 'print(1)' } });
  await new Promise((r) => setTimeout(r, 1500));
  const view = await stack.app.inject({ method: 'GET', url: `/jobs/${res.json().id}` });
  assert.equal(view.json().state, 'queued', 'nobody took the job');
}

describe('worker start-up self-check (the runtime, then canaries in real sandboxes)', () => {
  test('a sound sandbox passes every check; the runtime it found is logged, exported and in GET /info', async () => {
    const stack = await startStack();
    try {
      assert.deepEqual(stack.worker?.health?.failures, []);
      assert.equal(stack.worker?.health?.ok, true);
      const runtime = stack.worker?.health?.runtime;
      assert.ok(runtime?.release && runtime.release >= GVISOR.minRelease, `runsc ${runtime?.release} is current`);
      assert.deepEqual(
        { ...runtime, release: 'checked above' },
        { runtime: 'runsc', release: 'checked above', platform: 'systrap', directfs: false },
      );
      const ready = await stack.app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 200);
      assert.deepEqual(ready.json(), { ready: true, redis: true, workers: 1 });

      const info = await stack.app.inject({ method: 'GET', url: '/info' });
      assert.deepEqual(info.json().sandbox, [{ ...runtime, workers: 1 }]);

      const metrics = (await stack.worker?.metrics.registry.metrics()) ?? '';
      assert.ok(
        metrics.includes(
          `sbx_sandbox_runtime_info{runtime="runsc",release="${runtime.release}",platform="systrap",directfs="false"} 1`,
        ),
        metrics.split('\n').find((l) => l.startsWith('sbx_sandbox_runtime_info')) ?? 'no runtime info metric',
      );
    } finally {
      await stack.stop();
    }
  });

  test('a runsc older than the minimum fails the self-check with how to upgrade, and no job is taken', async () => {
    // The same binary, judged against a minimum it cannot meet: what a host still on 20221219 sees.
    const stack = await startStack({ env: { SBX_RUNSC_MIN_RELEASE: '20991231' } });
    try {
      await assertRefused(
        stack,
        'runtime_release',
        /^worker self-check failed: runtime_release \(runsc release \d{8} at \S+ is older than the minimum 20991231: run `npm run up`/,
      );
    } finally {
      await stack.stop();
    }
  });

  test('a failed canary: the worker takes no jobs and /readyz names the check', async () => {
    // A fork cap this loose no longer stops a fork bomb: the fork_capped canary must catch it.
    const stack = await startStack({ env: { SBX_NPROC: '5000' } });
    try {
      await assertRefused(
        stack,
        'fork_capped',
        /^worker self-check failed: fork_capped \(ok: uid=10001 nproc=5000\/5000/,
      );
    } finally {
      await stack.stop();
    }
  });
});
