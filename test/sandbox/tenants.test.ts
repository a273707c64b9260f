import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RETRY_AFTER_UNKNOWN_S } from '@sbx/shared';
import { pollJob } from '../support/poll.js';
import { type Stack, startStack } from '../support/stack.js';
import { newApiKey, type TenantsFile, tenantEntry, writeTenantsFile } from '../support/tenants-file.js';

const keys = { acme: newApiKey(), beta: newApiKey(), capped: newApiKey(), slow: newApiKey(), plain: newApiKey() };

describe('tenants: keys stored hashed, isolation, per-tenant limits, rate limits, queue caps', () => {
  let stack: Stack;
  let tenants: TenantsFile;
  before(async () => {
    tenants = await writeTenantsFile([
      tenantEntry('acme', keys.acme, { max_time_ms: 1000 }),
      tenantEntry('beta', keys.beta),
      tenantEntry('capped', keys.capped, { max_queued: 2 }),
      tenantEntry('slow', keys.slow, { rate_per_minute: 3 }),
      tenantEntry('plain', keys.plain, { environments: ['python'] }),
    ]);
    stack = await startStack({
      worker: false,
      env: { SBX_TENANTS_FILE: tenants.path, SBX_ENVIRONMENTS: 'python,python-data' },
    });
  });
  after(async () => {
    await stack.stop();
    await tenants.remove();
  });

  const as = (tenant: keyof typeof keys) => ({ authorization: `Bearer ${keys[tenant]}` });
  const submit = (tenant: keyof typeof keys, payload: object = { code: 'print(1)' }, extra = {}) =>
    stack.app.inject({ method: 'POST', url: '/jobs', headers: { ...as(tenant), ...extra }, payload });

  test('a job belongs to its tenant: anyone else gets 404 for it', async () => {
    const { id } = (await submit('acme')).json();
    assert.equal((await stack.app.inject({ method: 'GET', url: `/jobs/${id}`, headers: as('acme') })).statusCode, 200);
    const other = await stack.app.inject({ method: 'GET', url: `/jobs/${id}`, headers: as('beta') });
    assert.equal(other.statusCode, 404);
    assert.equal(other.json().code, 'not_found');
    assert.equal(
      (await stack.app.inject({ method: 'DELETE', url: `/jobs/${id}`, headers: as('beta') })).statusCode,
      404,
    );
    const list = await stack.app.inject({ method: 'GET', url: `/jobs?ids=${id}`, headers: as('beta') });
    assert.deepEqual(list.json().jobs, [{ id, state: 'not_found' }]);
    assert.equal((await stack.app.inject({ method: 'GET', url: `/jobs/${id}` })).statusCode, 401);
  });

  test("a tenant's environment allow-list: others are environment_not_available to it, and /info says so", async () => {
    const refused = await submit('plain', { code: 'print(1)', environment: 'python-data' });
    assert.equal(refused.statusCode, 400);
    assert.equal(refused.json().code, 'environment_not_available');
    assert.deepEqual(refused.json().details.available, ['python']);
    assert.equal((await submit('plain', { code: 'print(1)' })).statusCode, 202, 'its own environment is fine');
    assert.equal((await submit('beta', { code: 'print(1)', environment: 'python-data' })).statusCode, 202);
    const names = async (tenant: keyof typeof keys) =>
      (
        (await stack.app.inject({ method: 'GET', url: '/info', headers: as(tenant) })).json().environments as {
          name: string;
        }[]
      ).map((e) => e.name);
    assert.deepEqual(await names('plain'), ['python']);
    assert.deepEqual(await names('beta'), ['python', 'python-data']);
  });

  test("GET /info gives the caller's own maxima", async () => {
    const info = await stack.app.inject({ method: 'GET', url: '/info', headers: as('acme') });
    assert.equal(info.statusCode, 200);
    assert.deepEqual(info.json().limits.time_ms, { default: 1000, max: 1000 });
    const beta = (await stack.app.inject({ method: 'GET', url: '/info', headers: as('beta') })).json();
    assert.deepEqual(beta.limits.time_ms, { default: 2000, max: 2000 });
    assert.equal((await stack.app.inject({ method: 'GET', url: '/info' })).statusCode, 401, 'keys are required');
  });

  test("a tenant's own maxima apply on top of the server's", async () => {
    const res = await submit('acme', { code: 'print(1)', limits: { time_ms: 1500 } });
    assert.equal(res.statusCode, 400);
    assert.match(res.json().message, /the maximum is 1000/);
    const job = await stack.app.queue.getJob((await submit('acme')).json().id);
    assert.deepEqual(job?.data.limits, { time_ms: 1000, memory_mb: 128 }, 'the default is capped too');
    assert.equal((await submit('beta', { code: 'print(1)', limits: { time_ms: 1500 } })).statusCode, 202);
  });

  test('the queued-jobs cap answers 429 tenant_queue_full with Retry-After instead of growing the queue', async () => {
    assert.equal((await submit('capped')).statusCode, 202);
    assert.equal((await submit('capped')).statusCode, 202);
    const full = await submit('capped');
    assert.equal(full.statusCode, 429);
    assert.equal(full.json().code, 'tenant_queue_full');
    assert.deepEqual(full.json().details, { maximum: 2, queued: 2 });
    // No worker, so no throughput to go by: the fixed fallback.
    assert.equal(full.headers['retry-after'], String(RETRY_AFTER_UNKNOWN_S));
    const batch = await stack.app.inject({
      method: 'POST',
      url: '/jobs/batch',
      headers: as('capped'),
      payload: { jobs: [{ code: 'print(1)' }] },
    });
    assert.equal(batch.statusCode, 429);
    assert.equal((await submit('beta')).statusCode, 202, 'other tenants are not affected');
  });

  test('requests per minute: 429 rate_limited with Retry-After and rate-limit headers, per tenant', async () => {
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await submit('slow'));
    assert.deepEqual(
      answers.map((r) => r.statusCode),
      [202, 202, 202, 429],
    );
    const limited = answers[3];
    assert.equal(limited?.json().code, 'rate_limited');
    assert.ok(Number(limited?.headers['retry-after']) > 0, 'Retry-After');
    assert.equal(limited?.headers['x-ratelimit-limit'], '3');
    assert.equal(answers[0]?.headers['x-ratelimit-remaining'], '2');
    assert.equal((await submit('beta')).statusCode, 202, 'another tenant still gets through');
    assert.equal(
      (await stack.app.inject({ method: 'GET', url: '/healthz' })).statusCode,
      200,
      'probes are not limited',
    );
  });

  test('Idempotency-Key is scoped to the tenant', async () => {
    const a = await submit('acme', { code: 'print(7)' }, { 'idempotency-key': 'shared-key' });
    const b = await submit('beta', { code: 'print(7)' }, { 'idempotency-key': 'shared-key' });
    assert.equal(a.statusCode, 202);
    assert.equal(b.statusCode, 202);
    assert.notEqual(a.json().id, b.json().id);
  });
});

describe('the queued-jobs cap with a worker', () => {
  let stack: Stack;
  let tenants: TenantsFile;
  const capped = newApiKey();
  before(async () => {
    tenants = await writeTenantsFile([tenantEntry('capped', capped, { max_queued: 1 })]);
    stack = await startStack({ env: { SBX_TENANTS_FILE: tenants.path, SBX_SELF_CHECK: 'off' } });
  });
  after(async () => {
    await stack.stop();
    await tenants.remove();
  });

  test('a job a worker has taken no longer counts: the tenant can queue the next one', async () => {
    const headers = { authorization: `Bearer ${capped}` };
    const submit = () => stack.app.inject({ method: 'POST', url: '/jobs', headers, payload: { code: 'print(1)' } });
    const first = await submit();
    assert.equal(first.statusCode, 202);
    const done = await pollJob(stack.app, first.json().id, (v) => v.state === 'completed', 30_000, 50, headers);
    assert.equal(done.result?.status, 'ok');
    // Without the release this would be 429 tenant_queue_full: the first job would hold the only slot for a day.
    assert.equal((await submit()).statusCode, 202, 'the slot was released');
  });
});

describe('the whole queue has a cap too', () => {
  test('past SBX_MAX_QUEUED every tenant gets 503 queue_full with Retry-After, and nothing of the refused job stays', async () => {
    const stack = await startStack({ worker: false, env: { SBX_MAX_QUEUED: '3' } });
    try {
      const submit = () => stack.app.inject({ method: 'POST', url: '/jobs', payload: { code: 'print(1)' } });
      for (let i = 0; i < 3; i++) assert.equal((await submit()).statusCode, 202);
      const full = await submit();
      assert.equal(full.statusCode, 503);
      assert.equal(full.json().code, 'queue_full');
      assert.deepEqual(full.json().details, { maximum: 3, queued: 3 });
      assert.equal(full.headers['retry-after'], String(RETRY_AFTER_UNKNOWN_S));
      const batch = await stack.app.inject({
        method: 'POST',
        url: '/jobs/batch',
        payload: { jobs: [{ code: 'print(1)' }] },
      });
      assert.equal(batch.statusCode, 503);
      assert.equal((await stack.app.queue.getJobCounts('prioritized')).prioritized, 3);
    } finally {
      await stack.stop();
    }
  });
});
