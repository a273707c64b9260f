import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startStack } from '../support/stack.js';

describe('worker start-up self-check (canaries in real sandboxes)', () => {
  test('a sound sandbox passes every canary and the API is ready', async () => {
    const stack = await startStack();
    try {
      assert.deepEqual(stack.worker?.health?.failures, []);
      assert.equal(stack.worker?.health?.ok, true);
      const ready = await stack.app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 200);
      assert.deepEqual(ready.json(), { ready: true, redis: true, workers: 1 });
    } finally {
      await stack.stop();
    }
  });

  test('a failed canary: the worker takes no jobs and /readyz names the check', async () => {
    // A fork cap this loose no longer stops a fork bomb: the fork_capped canary must catch it.
    const stack = await startStack({ env: { SBX_NPROC: '5000' } });
    try {
      assert.equal(stack.worker?.health?.ok, false);
      assert.deepEqual(
        stack.worker?.health?.failures.map((f) => f.check),
        ['fork_capped'],
      );
      const ready = await stack.app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 503);
      assert.match(ready.json().reason, /^worker self-check failed: fork_capped \(ok: uid=10001 nproc=5000\/5000/);
      const res = await stack.app.inject({ method: 'POST', url: '/jobs', payload: { code: 'print(1)' } });
      await new Promise((r) => setTimeout(r, 1500));
      const view = await stack.app.inject({ method: 'GET', url: `/jobs/${res.json().id}` });
      assert.equal(view.json().state, 'queued', 'nobody took the job');
    } finally {
      await stack.stop();
    }
  });
});
