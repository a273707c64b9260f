/**
 * The queue order on real Redis and BullMQ, without sandboxes: jobs are queued as the API queues
 * them (FairQueue.reserve, then BullMQ priorities) and taken one at a time as a worker takes them
 * (BullMQ's own fetch, then FairQueue.started), so every order here is exact. The same order with
 * real worker processes and real sandboxes is in test/sandbox/lanes.test.ts. The BullMQ layout the
 * fair order reads (the prioritized set's scores and ranks, the wait list's end) is checked on its own,
 * name by name, in bullmq-internals.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { BAND, FairQueue, type Lane, priorityOf, promoteToFront, REBASE_AT } from '@sbx/shared';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { deleteKeys, REDIS_URL } from '../support/stack.js';

interface Tagged {
  tag: string;
  tenant: string;
  lane: Lane;
  round: number;
}

/** One queue of its own per test: a BullMQ queue and the fair order on top, as the API and worker use them. */
class Harness {
  readonly prefix = `sbxtest-${randomBytes(4).toString('hex')}`;
  readonly name = 'jobs';
  readonly redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  readonly queue = new Queue<Tagged>(this.name, { connection: this.redis, prefix: this.prefix });
  readonly fair = new FairQueue(this.redis, this.prefix, this.name, 4);
  // A worker without a processor: jobs are taken one at a time, when the test says.
  readonly worker = new Worker<Tagged>(this.name, null, { connection: this.redis, prefix: this.prefix });
  private readonly token = randomBytes(8).toString('hex');
  private counts = new Map<string, number>();

  /** Queues `n` jobs of `tenant` in `lane`, tagged tenant+index (A1, A2, ...); their ids. */
  async enqueue(tenant: string, n: number, lane: Lane = 'batch', opts: { weight?: number; cap?: number } = {}) {
    const ids = Array.from({ length: n }, () => randomUUID());
    const place = await this.fair.reserve({
      tenantId: tenant,
      lane,
      weight: opts.weight ?? 1,
      ids,
      tenantCap: opts.cap ?? 1000,
      totalCap: 10_000,
    });
    assert.ok(place.ok, JSON.stringify(place));
    const first = this.counts.get(tenant) ?? 0;
    this.counts.set(tenant, first + n);
    await this.queue.addBulk(
      ids.map((id, i) => ({
        name: 'run',
        data: { tag: `${tenant}${first + i + 1}`, tenant, lane, round: place.rounds[i] ?? 0 },
        opts: { jobId: id, priority: place.priorities[i] },
      })),
    );
    return ids;
  }

  /** Takes the next `n` jobs in the order workers would, promoting as the worker does; their tags. */
  async take(n: number): Promise<string[]> {
    const tags: string[] = [];
    for (let i = 0; i < n; i++) {
      const job = await this.worker.getNextJob(this.token, { block: false });
      if (!job) break;
      const promote = await this.fair.started({
        id: job.id as string,
        tenantId: job.data.tenant,
        lane: job.data.lane,
        round: job.data.round,
      });
      if (promote) await promoteToFront((id) => this.queue.getJob(id), promote);
      tags.push(job.data.tag);
      await job.moveToCompleted('done', this.token, false);
    }
    return tags;
  }

  async close() {
    await this.worker.close();
    await this.queue.close();
    await deleteKeys(this.prefix);
    this.redis.disconnect();
  }
}

describe('the fair queue on real Redis and BullMQ', () => {
  let h: Harness;
  before(() => {
    h = new Harness();
  });
  after(() => h.close());
  const fresh = async () => {
    await h.close();
    h = new Harness();
  };

  test('interactive work is taken before batch work queued earlier', async () => {
    await fresh();
    await h.enqueue('A', 3);
    await h.enqueue('B', 2, 'interactive');
    assert.deepEqual(await h.take(5), ['B1', 'B2', 'A1', 'A2', 'A3']);
  });

  test("two tenants take turns, each in the order it queued, whatever the first one's backlog", async () => {
    await fresh();
    await h.enqueue('A', 6);
    await h.enqueue('C', 3);
    assert.deepEqual(await h.take(9), ['A1', 'C1', 'A2', 'C2', 'A3', 'C3', 'A4', 'A5', 'A6']);
  });

  test('three tenants take turns', async () => {
    await fresh();
    await h.enqueue('A', 4);
    await h.enqueue('D', 4);
    await h.enqueue('C', 1);
    assert.deepEqual(await h.take(9), ['A1', 'D1', 'C1', 'A2', 'D2', 'A3', 'D3', 'A4', 'D4']);
  });

  test('a tenant that arrives while a backlog is being served goes next: it joins the round being served', async () => {
    await fresh();
    await h.enqueue('A', 10);
    assert.deepEqual(await h.take(5), ['A1', 'A2', 'A3', 'A4', 'A5']);
    await h.enqueue('C', 2);
    assert.deepEqual(await h.take(5), ['C1', 'A6', 'C2', 'A7', 'A8']);
    // And a tenant whose turn came and went joins the current round again, not its old one.
    assert.deepEqual(await h.take(1), ['A9']);
    await h.enqueue('C', 1);
    assert.deepEqual(await h.take(2), ['C3', 'A10']);
  });

  test('a weight of 2 gets two jobs per round', async () => {
    await fresh();
    await h.enqueue('A', 6, 'batch', { weight: 2 });
    await h.enqueue('C', 3);
    assert.deepEqual(await h.take(9), ['A1', 'A2', 'C1', 'A3', 'A4', 'C2', 'A5', 'A6', 'C3']);
  });

  test('interactive tenants take turns too', async () => {
    await fresh();
    await h.enqueue('B', 3, 'interactive');
    await h.enqueue('E', 1, 'interactive');
    assert.deepEqual(await h.take(4), ['B1', 'E1', 'B2', 'B3']);
  });

  test('batch work is never starved: after 4 interactive starts in a row the batch job due next goes first', async () => {
    await fresh();
    const [c1] = await h.enqueue('C', 2);
    await h.enqueue('B', 12, 'interactive');
    const order = await h.take(4);
    assert.equal(await h.fair.position(c1 as string), 0, 'promoted: it starts next, and its position says so');
    order.push(...(await h.take(10)));
    assert.deepEqual(order, ['B1', 'B2', 'B3', 'B4', 'C1', 'B5', 'B6', 'B7', 'B8', 'C2', 'B9', 'B10', 'B11', 'B12']);
  });

  test('position is the number of jobs that start first; it shrinks as they start', async () => {
    await fresh();
    const a = await h.enqueue('A', 3);
    const c = await h.enqueue('C', 2);
    const b = await h.enqueue('B', 1, 'interactive');
    const ids = [...a, ...c, ...b];
    const positions = await Promise.all(ids.map((id) => h.fair.position(id)));
    // B1 first, then A1 C1 A2 C2 A3.
    assert.deepEqual(positions, [1, 3, 5, 2, 4, 0]);
    await h.take(2);
    assert.deepEqual(await h.fair.position(a[2] as string), 3, 'two fewer ahead of A3');
    assert.equal(await h.fair.position(b[0] as string), null, 'a started job is not waiting');
  });

  test('a full tenant or a full queue takes nothing, and says how many wait', async () => {
    await fresh();
    await h.enqueue('A', 3, 'batch', { cap: 3 });
    const tenantFull = await h.fair.reserve({
      tenantId: 'A',
      lane: 'batch',
      weight: 1,
      ids: ['x'],
      tenantCap: 3,
      totalCap: 100,
    });
    assert.deepEqual(tenantFull, { ok: false, full: 'tenant', queued: 3 });
    const totalFull = await h.fair.reserve({
      tenantId: 'C',
      lane: 'interactive',
      weight: 1,
      ids: ['y', 'z'],
      tenantCap: 100,
      totalCap: 4,
    });
    assert.deepEqual(totalFull, { ok: false, full: 'total', queued: 3 });
    assert.deepEqual(await h.fair.depth(), { interactive: 0, batch: 3 });
    await h.take(1);
    assert.deepEqual(await h.fair.depth(), { interactive: 0, batch: 2 }, 'a started job no longer waits');
  });

  test('the clocks start over once the whole queue is idle, and only then', async () => {
    await fresh();
    const reserveOne = (id: string) =>
      h.fair.reserve({ tenantId: 'C', lane: 'batch', weight: 1, ids: [id], tenantCap: 9, totalCap: 9 });
    await h.redis.hset(h.fair.keys.clock, 'batch', REBASE_AT);
    // Nothing waiting, running or retrying: the first job starts the rounds over.
    await h.enqueue('A', 1);
    const [first] = await h.queue.getJobs(['prioritized']);
    assert.equal(first?.opts.priority, priorityOf('batch', 1));
    assert.equal(priorityOf('batch', 1), BAND + 1);
    // A job waiting: no start-over, however far the clock has gone.
    await h.redis.hset(h.fair.keys.clock, 'batch', REBASE_AT);
    const busy = await reserveOne('q');
    assert.ok(busy.ok && busy.rounds[0] === REBASE_AT, JSON.stringify(busy));
    await h.fair.release('C', ['q']);
    await h.take(1);
    const idle = await reserveOne('r');
    assert.ok(idle.ok && idle.rounds[0] === 1, JSON.stringify(idle));
  });
});
