import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeferredDisposer } from '@sbx/worker';

test('while busy, disposals wait up to the bound; idle, they all go; settle waits for them', async () => {
  let busy = true;
  const done: string[] = [];
  const disposer = new DeferredDisposer({ maxPending: 2, busy: () => busy, onError: () => {} });
  const sandbox = (name: string) => async () => {
    await new Promise((r) => setTimeout(r, 5));
    done.push(name);
  };
  disposer.add(sandbox('a'));
  disposer.add(sandbox('b'));
  assert.equal(disposer.waiting, 2, 'both wait while the worker is busy');
  disposer.add(sandbox('c'));
  assert.equal(disposer.waiting, 2, 'past the bound the oldest goes at once');
  busy = false;
  disposer.add(sandbox('d'));
  assert.equal(disposer.waiting, 0, 'idle: everything goes');
  await disposer.settle();
  assert.deepEqual(done.sort(), ['a', 'b', 'c', 'd']);
});

test('a failed disposal is reported, not thrown', async () => {
  const errors: unknown[] = [];
  const disposer = new DeferredDisposer({ maxPending: 0, busy: () => false, onError: (e) => errors.push(e) });
  disposer.add(async () => {
    throw new Error('gone');
  });
  await disposer.settle();
  assert.equal(errors.length, 1);
});

test('a used sandbox waits for a quiet worker at most maxWaitMs, busy or not', async () => {
  const done: string[] = [];
  const disposer = new DeferredDisposer({ maxPending: 4, maxWaitMs: 30, busy: () => true, onError: () => {} });
  disposer.add(async () => {
    done.push('a');
  });
  await new Promise((r) => setTimeout(r, 15));
  disposer.add(async () => {
    done.push('b');
  });
  assert.equal(disposer.waiting, 2, 'both wait while young');
  await new Promise((r) => setTimeout(r, 25));
  assert.deepEqual(done, ['a'], 'the older one went at its bound, the younger still waits');
  assert.equal(disposer.waiting, 1);
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(done, ['a', 'b']);
  assert.equal(disposer.waiting, 0);
});
