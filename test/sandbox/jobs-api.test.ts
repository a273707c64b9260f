import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pollJob, sleep } from '../support/poll.js';
import { type Stack, startStack } from '../support/stack.js';

describe('idempotency, batches and cancelling queued jobs (no worker)', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ worker: false });
  });
  after(async () => {
    await stack.stop();
  });

  const post = (url: string, payload: object, headers: Record<string, string> = {}) =>
    stack.app.inject({ method: 'POST', url, payload, headers });

  test('Idempotency-Key: same key and body → same job; another body → 409', async () => {
    const first = await post('/jobs', { code: 'print(1)' }, { 'idempotency-key': 'k-1' });
    const again = await post('/jobs', { code: 'print(1)' }, { 'idempotency-key': 'k-1' });
    assert.equal(first.statusCode, 202);
    assert.equal(again.statusCode, 202);
    assert.equal(again.json().id, first.json().id);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(await stack.app.queue.count(), 1, 'queued once');
    const other = await post('/jobs', { code: 'print(2)' }, { 'idempotency-key': 'k-1' });
    assert.equal(other.statusCode, 409);
    assert.equal(other.json().code, 'idempotency_conflict');
    const fresh = await post('/jobs', { code: 'print(1)' }, { 'idempotency-key': 'k-2' });
    assert.notEqual(fresh.json().id, first.json().id);
  });

  test('concurrent requests with one key queue one job', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, () => post('/jobs', { code: 'print(3)' }, { 'idempotency-key': 'race' })),
    );
    assert.equal(new Set(results.map((r) => r.json().id)).size, 1);
  });

  test('POST /jobs/batch queues all or none; GET /jobs?ids= reads several', async () => {
    const bad = await post('/jobs/batch', { jobs: [{ code: 'print(1)' }, { code: 'x', limits: { time_ms: 99999 } }] });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().code, 'limit_exceeded');
    assert.match(bad.json().message, /^jobs\[1\]: /);
    const before = await stack.app.queue.count();
    const ok = await post('/jobs/batch', { jobs: [{ code: 'print(1)' }, { code: 'print(2)' }, { code: 'print(3)' }] });
    assert.equal(ok.statusCode, 202);
    const ids = ok.json().jobs.map((j: { id: string }) => j.id);
    assert.equal(ids.length, 3);
    assert.equal(await stack.app.queue.count(), before + 3);
    const tooMany = await post('/jobs/batch', { jobs: Array.from({ length: 21 }, () => ({ code: 'print(1)' })) });
    assert.equal(tooMany.statusCode, 400);
    const list = await stack.app.inject({ method: 'GET', url: `/jobs?ids=${ids[0]},${ids[2]},nope` });
    const [first, third, none] = list.json().jobs;
    // No worker: no throughput, so no estimate; the third waits behind the first and the second.
    assert.deepEqual(first, {
      id: ids[0],
      state: 'queued',
      lane: 'batch',
      position: first.position,
      eta_seconds: null,
    });
    assert.deepEqual(third, {
      id: ids[2],
      state: 'queued',
      lane: 'batch',
      position: first.position + 2,
      eta_seconds: null,
    });
    assert.deepEqual(none, { id: 'nope', state: 'not_found' });
  });

  test('DELETE a queued job: removed and recorded as cancelled; again → 409; unknown → 404', async () => {
    const { id } = (await post('/jobs', { code: 'print(1)' })).json();
    const res = await stack.app.inject({ method: 'DELETE', url: `/jobs/${id}` });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().state, 'completed');
    assert.equal(res.json().result.status, 'cancelled');
    assert.equal(await stack.app.queue.getJob(id), undefined, 'gone from the queue');
    const again = await stack.app.inject({ method: 'DELETE', url: `/jobs/${id}` });
    assert.equal(again.statusCode, 409);
    assert.equal(again.json().code, 'job_finished');
    const unknown = await stack.app.inject({ method: 'DELETE', url: '/jobs/nope' });
    assert.equal(unknown.statusCode, 404);
  });
});

describe('cancelling a running job', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack.stop();
  });

  test('GET /jobs/:id?wait_ms= answers when the job completes, or when the wait is over', async () => {
    const submit = async (code: string) =>
      (await stack.app.inject({ method: 'POST', url: '/jobs', payload: { code } })).json().id as string;
    const get = (id: string, query: string) => stack.app.inject({ method: 'GET', url: `/jobs/${id}?${query}` });

    const quick = await submit('import time\ntime.sleep(0.3)\nprint("done")');
    const view = (await get(quick, 'wait_ms=20000')).json();
    assert.equal(view.state, 'completed', 'one request, no polling');
    assert.equal(view.result.stdout, 'done\n');

    const slow = await submit('import time\ntime.sleep(1.5)\nprint("late")');
    const started = performance.now();
    const early = (await get(slow, 'wait_ms=300')).json();
    const waited = performance.now() - started;
    assert.notEqual(early.state, 'completed');
    assert.ok(waited >= 250, `waited ${waited.toFixed(0)} ms`);

    const malformed = await get(slow, 'wait_ms=soon');
    assert.equal(malformed.statusCode, 400);
    assert.equal(malformed.json().code, 'validation_failed');
    const capped = (await get(slow, 'wait_ms=999999999')).json();
    assert.equal(capped.state, 'completed', 'a wait beyond the cap is capped, not refused');
    assert.equal(capped.result.stdout, 'late\n');
    assert.equal((await get('no-such-job', 'wait_ms=1000')).statusCode, 404, 'an unknown id does not wait');
  });

  test('POST /run with an Idempotency-Key: a retry gets the same run, never a second one', async () => {
    const body = { code: 'import random\nprint(random.getrandbits(64))' };
    const post = (payload: object) =>
      stack.app.inject({ method: 'POST', url: '/run', headers: { 'idempotency-key': 'run-retry' }, payload });
    // Two at once (a client retrying before the first answer), then one after the job finished.
    const [first, racing] = await Promise.all([post(body), post(body)]);
    const late = await post(body);
    for (const res of [first, racing, late]) assert.equal(res?.statusCode, 200, res?.body);
    const ids = new Set([first, racing, late].map((r) => r.json().id));
    const outputs = new Set([first, racing, late].map((r) => r.json().stdout));
    assert.equal(ids.size, 1, 'one job');
    assert.equal(outputs.size, 1, 'one run: the random number is the same');
    assert.equal(late.headers['idempotent-replayed'], 'true');
    const other = await post({ code: 'print(1)' });
    assert.equal(other.statusCode, 409);
    assert.equal(other.json().code, 'idempotency_conflict');
  });

  test('its container is killed and the result says cancelled', async () => {
    const { id } = (
      await stack.app.inject({
        method: 'POST',
        url: '/jobs',
        payload: { code: 'import time\nprint("started", flush=True)\ntime.sleep(1.9)\nprint("finished")' },
      })
    ).json();
    const running = await pollJob(stack.app, id, (v) => v.state === 'running', 5000);
    assert.equal(running.state, 'running');
    await sleep(300);
    const res = await stack.app.inject({ method: 'DELETE', url: `/jobs/${id}` });
    assert.equal(res.statusCode, 202);
    const view = await pollJob(stack.app, id, (v) => v.state === 'completed', 10_000);
    assert.equal(view.result?.status, 'cancelled');
    // Not timed (machines are noisy): a kill that waited for the run's end would let it print this.
    assert.ok(!view.result.stdout.includes('finished'), 'stopped when cancelled, not at the end of the run');
  });
});
