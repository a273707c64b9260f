import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { IDLE_CPU_PERIOD_US, IDLE_CPU_QUOTA_US, LABELS, raiseCpuPriority } from '@sbx/worker';
import Docker from 'dockerode';
import { eventually, pollUntil, sleep } from '../support/poll.js';
import { run, type Stack, startStack } from '../support/stack.js';

const docker = new Docker();

describe('warm pool (SBX_POOL_MIN=2)', () => {
  let stack: Stack;
  const mine = async () =>
    (
      await docker.listContainers({
        all: true,
        filters: { label: [`${LABELS.worker}=${stack.config.workerId}`] },
      })
    ).filter((c) => c.State === 'running');
  // Exactly `size` containers (a used sandbox is removed just after its job answers, and must be
  // gone first), and as many idle in the pool: started and with the harness waiting for a job.
  const idleInPool = async () => {
    const m = await stack.worker?.metrics.registry.getSingleMetricAsString('sbx_pool_size');
    return Number(/state="idle",environment="python"} (\d+)/.exec(m ?? '')?.[1] ?? 0);
  };
  const poolFull = (size: number) =>
    eventually(async () => (await mine()).length === size && (await idleInPool()) === size, 10_000, 100);
  const acquires = async () => {
    const m = await stack.worker?.metrics.registry.getSingleMetricAsString('sbx_pool_acquires_total');
    const count = (outcome: string) =>
      Number(new RegExp(`outcome="${outcome}",environment="python"} (\\d+)`).exec(m ?? '')?.[1] ?? 0);
    return { hit: count('hit'), wait: count('wait'), miss: count('miss') };
  };

  before(async () => {
    stack = await startStack({ env: { SBX_POOL_MIN: '2', SBX_POOL_MAX: '2', SBX_SELF_CHECK: 'off' } });
  });
  after(async () => {
    await stack.stop();
  });

  test('a default job takes a warm sandbox, which is never reused: the pool refills with new ones', async () => {
    assert.ok(await poolFull(2), 'two warm sandboxes idle');
    const before = new Set((await mine()).map((c) => c.Id));
    const r = await run(stack.app, { code: 'print(2 + 2)' });
    assert.equal(r.stdout, '4\n');
    assert.equal(r.stages.warm, true, 'the result says it ran warm');
    assert.ok(r.stages.sandbox < 0.05, `a ready sandbox is acquired at once (${r.stages.sandbox} s)`);
    assert.deepEqual(await acquires(), { hit: 1, wait: 0, miss: 0 });
    const { value: now } = await pollUntil(
      async () => new Set((await mine()).map((c) => c.Id)),
      (ids) => ids.size === 2 && [...before].some((id) => !ids.has(id)),
      10_000,
      100,
    );
    const gone = [...before].filter((id) => !now.has(id));
    assert.equal(gone.length, 1, 'the used sandbox was destroyed');
    assert.equal([...now].filter((id) => !before.has(id)).length, 1, 'one fresh replacement');
  });

  test('pooled sandboxes carry the cold limits: timeouts and memory limits still hold', async () => {
    assert.ok(await poolFull(2));
    const loop = await run(stack.app, { code: 'while True: pass', limits: { time_ms: 500 } });
    assert.equal(loop.status, 'timeout');
    // The job's clock, not the pool's (2000 ms): only the memory limit is the container's.
    assert.ok(loop.time < 1.2, `ran ${loop.time} s on a 500 ms limit`);
    const mem = await run(stack.app, { code: 'x = bytearray(150 * 2**20)' });
    assert.equal(mem.status, 'memory_limit');
  });

  test('idle sandboxes wait at the lowest CPU weight, and a job raises theirs to the default', async () => {
    assert.ok(await poolFull(2));
    const [idle] = await mine();
    assert.ok(idle);
    const shares = `/sys/fs/cgroup/cpu/docker/${idle.Id}/cpu.shares`;
    assert.equal((await readFile(shares, 'utf8')).trim(), '2');
    assert.equal(await raiseCpuPriority(idle.Id), true);
    assert.equal((await readFile(shares, 'utf8')).trim(), '1024');
  });

  test('idle sandboxes are held to 1 ms of CPU per 200 ms; the job that takes one gets its full quota', async () => {
    assert.ok(await poolFull(2));
    const bandwidth = async (id: string) =>
      Promise.all(
        ['cpu.cfs_quota_us', 'cpu.cfs_period_us'].map(async (f) =>
          (await readFile(`/sys/fs/cgroup/cpu/docker/${id}/${f}`, 'utf8')).trim(),
        ),
      );
    for (const c of await mine())
      assert.deepEqual(await bandwidth(c.Id), [String(IDLE_CPU_QUOTA_US), String(IDLE_CPU_PERIOD_US)]);
    // 0.3 s of CPU would take 30 s on the idle cap: ok within the 2 s limit means the cap was lifted.
    const busy = await run(stack.app, {
      code: 'import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\nprint("done")',
    });
    assert.deepEqual([busy.status, busy.stdout, busy.stages.warm], ['ok', 'done\n', true]);
  });

  test('a job with other memory limits runs cold and correctly', async () => {
    const before = await acquires();
    const r = await run(stack.app, { code: 'print("cold")', limits: { memory_mb: 64 } });
    assert.equal(r.stdout, 'cold\n');
    assert.equal(r.stages.warm, false);
    assert.equal((await acquires()).miss, before.miss + 1);
  });

  test('an idle sandbox that dies is replaced', async () => {
    assert.ok(await poolFull(2));
    const [victim] = await mine();
    assert.ok(victim);
    // The engine can refuse a kill of a sandbox whose process is already dying ("is zombie", "is not
    // running"): it dies either way, which is what this test needs.
    await docker
      .getContainer(victim.Id)
      .kill()
      .catch((err: Error) => assert.match(err.message, /zombie|not running/));
    await sleep(300);
    assert.ok(await poolFull(2), 'back to two');
    assert.ok(!(await mine()).some((c) => c.Id === victim.Id));
  });
});
