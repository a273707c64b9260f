/**
 * Lanes and fair shares with two real worker processes on one Redis, running real sandboxes: the
 * order test/redis/fair-queue.test.ts proves exactly holds across processes, within the slack of
 * the jobs already taken when a new one arrives (at most one per worker slot). A job's start is
 * when its worker took it: submitted_at + stages.queued.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { JobView, RunResult } from '@sbx/shared';
import { awaitAll } from '../support/burst.js';
import { pollUntil } from '../support/poll.js';
import { type Stack, startStack } from '../support/stack.js';
import { newApiKey, type TenantsFile, tenantEntry, writeTenantsFile } from '../support/tenants-file.js';
import { spawnWorker, stopWorker } from '../support/worker-process.js';

const WORKERS = 2;
/** Worker slots across the fleet: the most jobs that can have been taken already when one arrives. */
const SLOTS = WORKERS;
const JOB = { code: 'import time\ntime.sleep(0.15)\nprint("done")' };
const TENANTS = ['a', 'b', 'c', 'd', 'e'] as const;
type TenantId = (typeof TENANTS)[number];
const keys = Object.fromEntries(TENANTS.map((t) => [t, newApiKey()])) as Record<TenantId, string>;

describe('lanes and fair shares across two worker processes', () => {
  let stack: Stack;
  const workers: ChildProcess[] = [];
  let tenants: TenantsFile;

  before(async () => {
    tenants = await writeTenantsFile(
      TENANTS.map((id) => tenantEntry(id, keys[id], id === 'e' ? { max_queued: 4, lanes: ['batch'] } : {})),
    );
    stack = await startStack({ worker: false, env: { SBX_TENANTS_FILE: tenants.path, SBX_RATE_PER_MINUTE: '100000' } });
    for (let i = 0; i < WORKERS; i++)
      workers.push(
        await spawnWorker({
          SBX_REDIS_URL: stack.config.redisUrl,
          SBX_PREFIX: stack.config.prefix,
          SBX_QUEUE: stack.config.queueName,
          SBX_WORKER_ID: `${stack.config.workerId}-${i}`,
          SBX_WORKER_CONCURRENCY: String(SLOTS / WORKERS),
          SBX_POOL_MIN: '1',
          SBX_POOL_MAX: '2',
          SBX_LOG_LEVEL: 'warn',
        }),
      );
  });
  after(async () => {
    await Promise.all(workers.map((w) => stopWorker(w)));
    await stack?.stop();
    await tenants.remove();
  });

  const as = (t: TenantId) => ({ authorization: `Bearer ${keys[t]}` });
  const batch = async (t: TenantId, n: number): Promise<string[]> => {
    const ids: string[] = [];
    for (let left = n; left > 0; left -= 20) {
      const res = await stack.app.inject({
        method: 'POST',
        url: '/jobs/batch',
        headers: as(t),
        payload: { jobs: Array.from({ length: Math.min(20, left) }, () => JOB) },
      });
      assert.equal(res.statusCode, 202, res.body);
      ids.push(...res.json().jobs.map((j: { id: string }) => j.id));
    }
    return ids;
  };
  const submit = (t: TenantId, body: object = JOB) =>
    stack.app.inject({ method: 'POST', url: '/jobs', headers: as(t), payload: body });
  const results = (t: TenantId, ids: string[]) =>
    awaitAll(
      ids,
      async (id) => (await stack.app.inject({ method: 'GET', url: `/jobs/${id}`, headers: as(t) })).json() as JobView,
      120_000,
    ).then((views) => views.map((v) => v.result as RunResult));
  const startOf = (r: RunResult) => Date.parse(r.submitted_at) + (r.stages?.queued ?? 0) * 1000;
  /** Jobs of `among` that started after `from` and before `until` (ms). */
  const startedBetween = (among: RunResult[], from: number, until: number) =>
    among.filter((r) => startOf(r) > from && startOf(r) < until).length;
  const waitUntilStarted = async (t: TenantId, ids: string[], n: number) => {
    const { value } = await pollUntil(
      async () => {
        let started = 0;
        for (const id of ids) {
          const view = (await stack.app.inject({ method: 'GET', url: `/jobs/${id}`, headers: as(t) })).json();
          if (view.state !== 'queued') started += 1;
        }
        return started;
      },
      (s) => s >= n,
      60_000,
      50,
    );
    assert.ok(value >= n, `${n} of the backlog started`);
  };

  test('a POST /run behind a batch backlog waits for a free slot only, and is in the interactive lane', async () => {
    const backlog = await batch('a', 40);
    await waitUntilStarted('a', backlog, 3);
    const sent = Date.now();
    const res = await stack.app.inject({ method: 'POST', url: '/run', headers: as('b'), payload: JOB });
    assert.equal(res.statusCode, 200, res.body);
    const run = res.json() as RunResult;
    const all = await results('a', backlog);
    const ahead = startedBetween(all, sent, startOf(run));
    assert.ok(ahead <= SLOTS, `${ahead} batch jobs started between its arrival and its start (at most ${SLOTS})`);
    // FIFO within tenant and lane: no job starts before one queued SLOTS or more places ahead of it.
    // Neighbours may swap: the workers take them at the same moment, and each reads its start time
    // from its own event loop, late by however loaded the machine is (this once failed at 50 ms).
    const order = all.map(startOf);
    const overtaking = order.flatMap((t, j) =>
      order.slice(0, Math.max(0, j - SLOTS + 1)).some((earlier) => earlier > t + 50) ? [j] : [],
    );
    assert.deepEqual(overtaking, [], 'the backlog started in the order it was queued, but for neighbours');
  });

  for (const tenants of [2, 3] as const)
    test(`${tenants} tenants: one that arrives behind the others' backlogs waits for about one job of each`, async () => {
      const heavy: TenantId[] = tenants === 2 ? ['a'] : ['a', 'd'];
      const backlogs = await Promise.all(heavy.map((t) => batch(t, 30)));
      await waitUntilStarted('a', backlogs[0] ?? [], 4);
      const sent = Date.now();
      const accepted = await submit('c');
      assert.equal(accepted.statusCode, 202, accepted.body);
      const [mine] = await results('c', [accepted.json().id]);
      assert.ok(mine);
      const others = (await Promise.all(heavy.map((t, i) => results(t, backlogs[i] ?? [])))).flat();
      const ahead = startedBetween(others, sent, startOf(mine));
      // Bound: the jobs already taken when it arrived (one per slot), and one of each other tenant in
      // the round being served.
      const bound = SLOTS + heavy.length;
      assert.ok(ahead <= bound, `${ahead} jobs of the others started before it (bound ${bound})`);
      const left = others.filter((r) => startOf(r) > startOf(mine)).length;
      assert.ok(left > 30 * heavy.length - 20, `it did not wait for the backlogs (${left} of theirs started after it)`);
    });

  test('positions shrink as the jobs ahead start, with an estimate of the wait', async () => {
    const backlog = await batch('a', 16);
    await waitUntilStarted('a', backlog, 2);
    const last = backlog.at(-1) as string;
    // Behind a backlog still waiting: once the backlog has all started, a slot may be free at once and a
    // new job is never queued, which is no position to say.
    const accepted = await submit('a');
    const body = accepted.json();
    assert.equal(body.lane, 'batch');
    assert.ok(typeof body.position === 'number', `202 says its position: ${accepted.body}`);
    const seen: { position: number; eta: number | null }[] = [];
    await pollUntil(
      async () => {
        const view = (await stack.app.inject({ method: 'GET', url: `/jobs/${last}`, headers: as('a') })).json();
        if (view.state === 'queued' && typeof view.position === 'number')
          seen.push({ position: view.position, eta: view.eta_seconds });
        return view.state;
      },
      (s) => s !== 'queued',
      60_000,
      100,
    );
    assert.ok(seen.length >= 3, `seen queued ${seen.length} times`);
    const positions = seen.map((s) => s.position);
    assert.ok(
      positions.every((p, i) => i === 0 || p <= (positions[i - 1] ?? 0)),
      `never grows: ${positions.join(' ')}`,
    );
    assert.ok((positions[0] ?? 0) > (positions.at(-1) ?? 0), `shrinks: ${positions.join(' ')}`);
    assert.ok(
      seen.every((s) => s.eta !== null && s.eta > 0),
      'an estimate while jobs are being started',
    );
    await results('a', [...backlog, body.id]);
  });

  test("a tenant's cap answers 429 tenant_queue_full with a Retry-After that is right within a factor of 3", async () => {
    // Tenant e: 4 waiting at most, batch lane only. Warm up its throughput estimate, then fill it.
    await results('e', [(await submit('e')).json().id, (await submit('e')).json().id]);
    const refusedLane = await submit('e', { ...JOB, lane: 'interactive' });
    assert.equal(refusedLane.statusCode, 400);
    assert.equal(refusedLane.json().code, 'lane_not_allowed');
    const info = (await stack.app.inject({ method: 'GET', url: '/info', headers: as('e') })).json();
    assert.deepEqual([info.lanes, info.weight, info.limits.queued], [['batch'], 1, 4], 'GET /info says so');
    const busy = await batch('a', 30); // a busy fleet: e's jobs wait their turn
    const ids: string[] = [];
    let refused: Awaited<ReturnType<typeof submit>> | null = null;
    for (let i = 0; i < 10 && !refused; i++) {
      const res = await submit('e');
      if (res.statusCode === 202) ids.push(res.json().id);
      else refused = res;
    }
    assert.ok(refused, 'the cap was reached');
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.json().code, 'tenant_queue_full');
    const retryAfter = Number(refused.headers['retry-after']);
    assert.ok(retryAfter >= 1, `Retry-After: ${refused.headers['retry-after']}`);
    const from = Date.now();
    const { value } = await pollUntil(
      async () => (await submit('e')).statusCode,
      (s) => s === 202,
      60_000,
      100,
    );
    assert.equal(value, 202);
    const took = Math.max(1, Math.ceil((Date.now() - from) / 1000));
    assert.ok(
      took <= retryAfter * 3 && retryAfter <= took * 3,
      `Retry-After ${retryAfter} s; room came after ${took} s`,
    );
    await results('e', ids);
    await results('a', busy);
  });

  test('queue depth by lane and queue wait by lane are exported', async () => {
    const api = await stack.app.metrics.registry.metrics();
    assert.match(api, /^sbx_queue_depth\{lane="interactive"\} \d+$/m);
    assert.match(api, /^sbx_queue_depth\{lane="batch"\} \d+$/m);
  });
});
