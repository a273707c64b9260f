import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type PoolOutcome, type Sandbox, type SandboxRunner, type StartTicket, WarmPoolRunner } from '@sbx/worker';

const LIMITS = { time_ms: 2000, memory_mb: 128 };

/** Sandboxes that start when the test says so, and record what happened to them. */
class FakeRunner implements SandboxRunner {
  readonly pending: {
    labels: { jobId: string; background?: StartTicket };
    resolve: (s: Sandbox) => void;
    reject: (e: Error) => void;
  }[] = [];
  readonly disposed: string[] = [];
  private count = 0;

  acquire(_limits: typeof LIMITS, labels: { jobId: string; background?: StartTicket }): Promise<Sandbox> {
    return new Promise((resolve, reject) => this.pending.push({ labels, resolve, reject }));
  }

  /** Finishes the oldest start in progress. */
  startOne(): FakeSandbox {
    const next = this.pending.shift();
    assert.ok(next, 'a start is in progress');
    const sandbox = new FakeSandbox(`sb${++this.count}`, this.disposed);
    next.resolve(sandbox);
    return sandbox;
  }

  failOne(): void {
    this.pending.shift()?.reject(new Error('docker said no'));
  }
}

class FakeSandbox implements Sandbox {
  warm = false;
  prioritized = false;
  idled = false;
  /** Set to make lifting the idle cap fail, as a cgroup write can. */
  liftFails = false;
  async prioritize() {
    if (this.liftFails) throw new Error('cannot write cpu.cfs_quota_us');
    this.prioritized = true;
  }
  async idle() {
    this.idled = true;
  }
  private die: () => void = () => {};
  private readonly exited = new Promise<void>((r) => {
    this.die = r;
  });
  constructor(
    readonly id: string,
    private readonly disposed: string[],
  ) {}
  run(): never {
    throw new Error('not used');
  }
  whenExited() {
    return this.exited;
  }
  kill() {
    this.die();
  }
  async dispose() {
    this.disposed.push(this.id);
  }
}

const tick = () => new Promise((r) => setImmediate(r));

/** Drains the pool, finishing the starts it waits for. */
async function shutdown(runner: FakeRunner, p: WarmPoolRunner) {
  const drained = p.drain();
  while (runner.pending.length) {
    runner.startOne();
    await tick();
  }
  await drained;
}

function pool(runner: FakeRunner, opts: { min: number; max: number; maxStarting?: number; windowMs?: number }) {
  const outcomes: PoolOutcome[] = [];
  const p = new WarmPoolRunner(runner, {
    min: opts.min,
    max: opts.max,
    maxStarting: opts.maxStarting ?? 1,
    demandWindowMs: opts.windowMs ?? 60_000,
    trimIntervalMs: 60_000,
    retryDelayMs: 1,
    limits: LIMITS,
    onAcquire: (o) => outcomes.push(o),
  });
  return { p, outcomes };
}

test('the pool fills to its floor one start at a time, and a job takes a ready sandbox marked warm', async () => {
  const runner = new FakeRunner();
  const { p, outcomes } = pool(runner, { min: 2, max: 4 });
  p.start();
  assert.equal(runner.pending.length, 1, 'maxStarting 1: one start at a time');
  runner.startOne();
  await tick();
  assert.equal(runner.pending.length, 1, 'then the next');
  runner.startOne();
  await tick();
  assert.equal(p.idleCount, 2);
  assert.equal(runner.pending.length, 0, 'the floor is reached and nothing else starts');
  const got = await p.acquire(LIMITS, { jobId: 'j1' });
  assert.equal(got.warm, true);
  assert.equal((got as FakeSandbox).prioritized, true, 'a job raises its sandbox to the normal CPU weight');
  assert.ok(runner.pending[0]?.labels.background, 'refills start in the background');
  assert.deepEqual(outcomes, ['hit']);
  assert.equal(runner.pending.length, 1, 'a replacement starts at once');
  await shutdown(runner, p);
});

test('an idle sandbox is capped; one whose cap cannot be lifted is disposed and the job starts cold', async () => {
  const runner = new FakeRunner();
  const { p, outcomes } = pool(runner, { min: 1, max: 1 });
  p.start();
  const stuck = runner.startOne();
  await tick();
  assert.equal(stuck.idled, true, 'capped while it waits in the pool');
  stuck.liftFails = true;
  const acquired = p.acquire(LIMITS, { jobId: 'j1' });
  await tick();
  assert.equal(runner.pending.length, 2, 'a refill and the cold start for the job');
  assert.equal(runner.pending[1]?.labels.jobId, 'j1');
  runner.pending.splice(1, 1)[0]?.resolve(new FakeSandbox('cold', runner.disposed));
  const got = await acquired;
  assert.equal(got.id, 'cold');
  assert.equal(got.warm, false);
  assert.deepEqual(runner.disposed, [stuck.id], 'the capped one is thrown away, never handed to a job');
  assert.deepEqual(outcomes, ['miss']);
  await shutdown(runner, p);
});

test('jobs that find nothing ready raise the target up to the ceiling; served ones do not; it falls back', async () => {
  const runner = new FakeRunner();
  const { p } = pool(runner, { min: 1, max: 3, windowMs: 50 });
  p.start();
  runner.startOne();
  await tick();
  await p.acquire(LIMITS, { jobId: 'served' });
  assert.equal(p.target, 1, 'a job served from the pool is no shortfall');
  for (let i = 0; i < 5; i++) {
    const acquired = p.acquire(LIMITS, { jobId: `j${i}` });
    await tick();
    while (runner.pending.length) runner.startOne();
    await acquired;
    await tick();
    // Take whatever is idle, so the next job finds nothing ready.
    while (p.idleCount) await p.acquire(LIMITS, { jobId: `drain${i}` });
  }
  assert.equal(p.target, 3, 'floor 1 + the shortfalls, capped at 3');
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(p.target, 1, 'the shortfalls left the window');
  await shutdown(runner, p);
});

test('a job that finds nothing ready joins a start in progress instead of starting its own', async () => {
  const runner = new FakeRunner();
  const { p, outcomes } = pool(runner, { min: 1, max: 1 });
  p.start();
  assert.equal(runner.pending.length, 1);
  const acquired = p.acquire(LIMITS, { jobId: 'j1' });
  await tick();
  assert.equal(runner.pending.length, 1, 'no cold start was added');
  const sandbox = runner.startOne();
  assert.equal(await acquired, sandbox);
  assert.deepEqual(outcomes, ['wait']);
  await tick();
  assert.equal(runner.pending.length, 1, 'and the pool refills');
  await shutdown(runner, p);
});

test('an urgent job (a caller waits) takes the start a batch job was waiting on; that one gets the next', async () => {
  const runner = new FakeRunner();
  const { p, outcomes } = pool(runner, { min: 1, max: 1 });
  p.start();
  const batch = p.acquire(LIMITS, { jobId: 'batch' });
  const urgent = p.acquire(LIMITS, { jobId: 'urgent', urgent: true });
  await tick();
  assert.deepEqual(outcomes, ['wait', 'wait']);
  assert.deepEqual(
    runner.pending.map((x) => x.labels.jobId),
    ['warm-pool'],
    'no cold start: the urgent job joined',
  );
  const first = runner.startOne();
  assert.equal(await urgent, first);
  await tick();
  const second = runner.startOne();
  assert.equal(await batch, second, 'the batch job waited for the start after');
  await shutdown(runner, p);
});

test('with every start taken, a job starts cold; other limits always run cold', async () => {
  const runner = new FakeRunner();
  const { p, outcomes } = pool(runner, { min: 1, max: 1 });
  p.start();
  const first = p.acquire(LIMITS, { jobId: 'j1' }); // joins the pool's start
  const second = p.acquire(LIMITS, { jobId: 'j2' }); // nothing left to join: cold
  const other = p.acquire({ ...LIMITS, memory_mb: 64 }, { jobId: 'j3' });
  await tick();
  assert.deepEqual(outcomes, ['wait', 'miss', 'miss']);
  assert.deepEqual(
    runner.pending.map((x) => x.labels.jobId),
    ['warm-pool', 'j2', 'j3'],
  );
  runner.startOne();
  runner.startOne();
  runner.startOne();
  await Promise.all([first, second, other]);
  await shutdown(runner, p);
});

test('a failed start hands its waiting job a cold start, and the pool retries', async () => {
  const runner = new FakeRunner();
  const { p } = pool(runner, { min: 1, max: 1 });
  p.start();
  const acquired = p.acquire(LIMITS, { jobId: 'j1' });
  runner.failOne();
  await tick();
  assert.equal(runner.pending[0]?.labels.jobId, 'j1', 'the job starts its own');
  runner.startOne();
  await acquired;
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(runner.pending.length, 1, 'the pool tried again');
  await shutdown(runner, p);
});

test('an idle sandbox that dies is disposed and replaced; drain disposes of the idle ones', async () => {
  const runner = new FakeRunner();
  const { p } = pool(runner, { min: 1, max: 1 });
  p.start();
  const victim = runner.startOne();
  await tick();
  victim.kill();
  await tick();
  await tick();
  assert.deepEqual(runner.disposed, [victim.id]);
  assert.equal(runner.pending.length, 1, 'a replacement is starting');
  const replacement = runner.startOne();
  await tick();
  await shutdown(runner, p);
  assert.deepEqual(runner.disposed, [victim.id, replacement.id]);
  const late = p.acquire(LIMITS, { jobId: 'late' });
  assert.deepEqual(
    runner.pending.map((x) => x.labels.jobId),
    ['late'],
    'cold after drain',
  );
  runner.startOne();
  await late;
});

test('floor above ceiling is refused', () => {
  assert.throws(() => pool(new FakeRunner(), { min: 3, max: 2 }), /min <= max/);
});

test('while the worker is busy the pool refills only when it has nothing idle or starting', async () => {
  const runner = new FakeRunner();
  let busy = false;
  const p = new WarmPoolRunner(runner, { min: 2, max: 2, maxStarting: 2, limits: LIMITS, busy: () => busy });
  p.start();
  runner.startOne();
  runner.startOne();
  await tick();
  busy = true;
  await p.acquire(LIMITS, { jobId: 'j1' });
  assert.equal(runner.pending.length, 0, 'one idle left: the refill waits');
  await p.acquire(LIMITS, { jobId: 'j2' });
  assert.equal(runner.pending.length, 1, 'none left: a start goes ahead anyway');
  busy = false;
  p.refill();
  assert.equal(runner.pending.length, 2, 'idle again: the pool catches up');
  await shutdown(runner, p);
});

test('idle sandboxes above the target are retired once demand falls, but never while the worker is busy', async () => {
  const runner = new FakeRunner();
  let busy = false;
  const p = new WarmPoolRunner(runner, {
    min: 0,
    max: 2,
    maxStarting: 2,
    demandWindowMs: 30,
    trimIntervalMs: 5,
    limits: LIMITS,
    busy: () => busy,
  });
  p.start();
  // Two jobs that find nothing ready raise the target to 2; the pool fills to it.
  const jobs = [p.acquire(LIMITS, { jobId: 'a' }), p.acquire(LIMITS, { jobId: 'b' })];
  while (runner.pending.length) {
    runner.startOne();
    await tick();
  }
  await Promise.all(jobs);
  assert.equal(p.idleCount, 2);
  busy = true;
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(p.target, 0, 'the shortfalls left the window');
  assert.equal(p.idleCount, 2, 'busy: nothing retired');
  assert.deepEqual(runner.disposed, []);
  busy = false;
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(p.idleCount, 0, 'quiet: the excess goes');
  assert.equal(runner.disposed.length, 2);
  await shutdown(runner, p);
});
