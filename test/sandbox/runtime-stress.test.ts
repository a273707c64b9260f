/**
 * What depends on gVisor's release and platform under load, re-proved on the registered runtime:
 * more sandboxes than cores running syscall-heavy and thread-heavy programs (upstream gVisor issue 9119:
 * systrap's spinning doubled CPU use once sandboxes outnumbered cores), and many sandbox starts back
 * to back under load (issue 9996: "cannot read client sync file" at start-up with some 2024 releases).
 * The worker retries a sandbox that fails to start, so a start-up failure would hide behind a correct
 * result: the failure counter is what these tests read.
 */
import assert from 'node:assert/strict';
import { cpus } from 'node:os';
import { describe, test } from 'node:test';
import type { JobView, RunResult } from '@sbx/shared';
import { pollUntil } from '../support/poll.js';
import { type Stack, startStack } from '../support/stack.js';

async function submitAll(stack: Stack, jobs: Record<string, unknown>[]): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < jobs.length; i += 20) {
    const res = await stack.app.inject({
      method: 'POST',
      url: '/jobs/batch',
      payload: { jobs: jobs.slice(i, i + 20) },
    });
    assert.equal(res.statusCode, 202, res.body);
    ids.push(...(res.json().jobs as { id: string }[]).map((j) => j.id));
  }
  return ids;
}

async function resultsOf(stack: Stack, ids: string[], timeoutMs: number): Promise<RunResult[]> {
  const { value } = await pollUntil(
    async () => {
      const views: JobView[] = [];
      for (let i = 0; i < ids.length; i += 100) {
        const res = await stack.app.inject({ method: 'GET', url: `/jobs?ids=${ids.slice(i, i + 100).join(',')}` });
        views.push(...(res.json().jobs as JobView[]));
      }
      return views;
    },
    (views) => views.every((v) => v.state === 'completed'),
    timeoutMs,
    500,
  );
  const done = value.filter((v) => v.state === 'completed').length;
  assert.equal(done, ids.length, `${done} of ${ids.length} jobs completed in time`);
  return value.map((v) => v.result as RunResult);
}

const sandboxFailures = async (stack: Stack) =>
  Number(
    /sbx_sandbox_failures_total (\d+)/.exec(
      (await stack.worker?.metrics.registry.getSingleMetricAsString('sbx_sandbox_failures_total')) ?? '',
    )?.[1] ?? Number.NaN,
  );

// Fork is refused by the seccomp floor now, so the syscall-heavy half is pipe traffic between two
// threads: every write and read is a trip through the Sentry, which is what systrap's spinning taxed.
const SYSCALL_HEAVY = [
  'import os, threading',
  'r, w = os.pipe()',
  'got = []',
  'def reader():',
  '    total = 0',
  '    for _ in range(3000):',
  '        total += int(os.read(r, 15))',
  '    got.append(total)',
  't = threading.Thread(target=reader); t.start()',
  'for i in range(3000):',
  "    os.write(w, b'%15d' % i)",
  '    if i % 50 == 0: os.sched_yield()',
  't.join(); print(got[0])',
].join('\n');
const SYSCALL_TOTAL = (3000 * 2999) / 2;

const THREAD_HEAVY = [
  'import threading',
  'out = [0] * 8',
  'def work(k):',
  '    out[k] = sum(range(150000))',
  'ts = [threading.Thread(target=work, args=(k,)) for k in range(8)]',
  'for t in ts: t.start()',
  'for t in ts: t.join()',
  'print(sum(out))',
].join('\n');
const THREAD_TOTAL = 8 * ((150000 * 149999) / 2);

describe('the runtime under load: more sandboxes than cores, many starts back to back', () => {
  test('three sandboxes per core of syscall-heavy and thread-heavy programs: every one ok (within its 2 s) and exact', async () => {
    const parallel = 3 * cpus().length;
    // The policy layer would refuse os.pipe in strict; this is about the runtime, so the floor alone runs them.
    const stack = await startStack({
      env: { SBX_WORKER_CONCURRENCY: String(parallel), SBX_SELF_CHECK: 'off', SBX_POLICY_LAYER: 'off' },
    });
    try {
      const jobs = Array.from({ length: 2 * parallel }, (_, i) => ({
        code: i % 2 ? THREAD_HEAVY : SYSCALL_HEAVY,
        policy: 'standard',
      }));
      const results = await resultsOf(stack, await submitAll(stack, jobs), 120_000);
      const wrong = results
        .map((r, i) => ({ r, want: `${i % 2 ? THREAD_TOTAL : SYSCALL_TOTAL}\n` }))
        .filter(({ r, want }) => r.status !== 'ok' || r.stdout !== want)
        .map(({ r }) => `${r.status}: ${r.message ?? ''} ${r.stderr.slice(-200)}`);
      assert.deepEqual(wrong, []);
      assert.equal(await sandboxFailures(stack), 0, 'no sandbox failed to start or run');
    } finally {
      await stack.stop();
    }
  });

  test('200 sandbox starts, two at a time and no pool: none fails to start', async () => {
    const stack = await startStack({ env: { SBX_WORKER_CONCURRENCY: '2', SBX_SELF_CHECK: 'off' } });
    try {
      const jobs = Array.from({ length: 200 }, (_, i) => ({ code: `print(${i})` }));
      const results = await resultsOf(stack, await submitAll(stack, jobs), 300_000);
      const wrong = results.filter((r, i) => r.status !== 'ok' || r.stdout !== `${i}\n`);
      assert.deepEqual(
        wrong.map((r) => `${r.status}: ${r.message ?? ''}`),
        [],
      );
      assert.ok(
        results.every((r) => r.stages?.warm === false),
        'every job started its own sandbox',
      );
      assert.equal(await sandboxFailures(stack), 0, 'no start needed a retry');
    } finally {
      await stack.stop();
    }
  });
});
