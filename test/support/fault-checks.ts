/** What every fault of the fault suite must leave true, once it has healed. */
import assert from 'node:assert/strict';
import type { JobView } from '@sbx/shared';
import {
  awaitAll,
  awaitNothingLeft,
  type BurstJob,
  CompletionCount,
  mixedBurst,
  NOTHING_LEFT,
  wrongVerdicts,
} from './burst.js';
import { eventually, pollUntil } from './poll.js';
import type { Stack } from './stack.js';

/** The bound the suite holds the service to: ready again this soon after a fault has healed. */
export const READY_WITHIN_MS = 30_000;

/** Every job in `ids` completed exactly once (its completed events may trail its result by a moment). */
export async function assertCompletedOnce(count: CompletionCount, ids: string[]): Promise<void> {
  await eventually(() => count.notOnce(ids).length === 0, 5000, 100);
  assert.deepEqual(count.notOnce(ids), [], 'every job completed exactly once');
}

export async function assertReadyAgain(stack: Stack): Promise<void> {
  const ready = await pollUntil(
    async () => (await stack.app.inject({ method: 'GET', url: '/readyz' })).statusCode,
    (s) => s === 200,
    READY_WITHIN_MS,
    250,
  );
  assert.equal(ready.value, 200, `ready again by itself within ${READY_WITHIN_MS} ms`);
}

/**
 * While the stack still runs: its worker's janitor, not the test's stop, clears the runsc processes
 * and the containerd sandboxes Docker forgot that a fault left on the host.
 */
export async function assertJanitorCleared(prefix: string, timeoutMs: number): Promise<void> {
  const swept = await awaitNothingLeft(prefix, timeoutMs, (l) => !l.runsc.length && !l.forgotten.length);
  assert.deepEqual([swept.runsc, swept.forgotten], [[], []], 'the janitor cleared what the fault left');
}

export async function assertNothingLeft(prefix: string): Promise<void> {
  assert.deepEqual(await awaitNothingLeft(prefix), NOTHING_LEFT, 'nothing left behind');
}

/** A burst of mixed jobs submitted through the stack's API, with their completions counted from the start. */
export class Burst {
  private constructor(
    private readonly stack: Stack,
    readonly jobs: BurstJob[],
    readonly ids: string[],
    readonly count: CompletionCount,
  ) {}

  static async submit(stack: Stack, size = 21): Promise<Burst> {
    const count = new CompletionCount(stack.config.redisUrl, stack.config.queueName, stack.config.prefix);
    await count.ready();
    const jobs = mixedBurst(size);
    const ids: string[] = [];
    for (const job of jobs) {
      const res = await stack.app.inject({ method: 'POST', url: '/jobs', payload: job.body });
      assert.equal(res.statusCode, 202, res.body);
      ids.push(res.json().id);
    }
    return new Burst(stack, jobs, ids, count);
  }

  /** Every job completed once with the verdict its program earns, and the service is ready again. */
  async assertSurvived(): Promise<JobView[]> {
    const views = await awaitAll(
      this.ids,
      async (id) => (await this.stack.app.inject({ method: 'GET', url: `/jobs/${id}` })).json() as JobView,
      120_000,
    );
    assert.deepEqual(wrongVerdicts(this.jobs, views), [], 'every job has the verdict its program earns');
    await assertCompletedOnce(this.count, this.ids);
    await assertReadyAgain(this.stack);
    return views;
  }

  close(): Promise<void> {
    return this.count.close();
  }
}
