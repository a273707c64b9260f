/**
 * `npm run bench`: what a caller waits for and what the service sustains, beside what it replaces
 * (a cold `docker run --runtime=runsc` per job) and what it cannot beat (a bare host interpreter),
 * all measured in one run on this machine; plus where a request spends its time and what the idle
 * warm pool costs. Prints a Markdown report and writes it to docs/benchmarks.md (BENCH_OUTPUT, or
 * `-` to only print). A script, not a test: the only assertions are that every run printed what it
 * should, because figures from broken runs are worse than none.
 *
 * Sizes: BENCH_SEQUENTIAL (50), BENCH_BURST (200), BENCH_TEST_JOBS (20) × BENCH_TESTS (20),
 * BENCH_BASELINE (20), BENCH_BASELINE_BURST (40), BENCH_BARE (50), BENCH_COLD_START (10),
 * BENCH_WARM (20), BENCH_SYSCALL (5) and BENCH_SYSCALL_BASELINE (5) runs of each syscall program,
 * BENCH_CHARTS (20), BENCH_CHART_BASELINE (10), BENCH_RESTORE_STARTS (5) python-data sandboxes started each way,
 * BENCH_RESTORE_BURST (30) charts at once and BENCH_RESTORE_SEQUENTIAL (20) 0.3 s apart per mode, BENCH_LIVE (20) rounds idle and BENCH_LIVE_BURST (20) at most
 * under a burst of BENCH_LIVE_BURST_JOBS (200), BENCH_LIVE_LINES (5) runs of each 100k-line program; pool: BENCH_POOL_MIN/BENCH_POOL_MAX (the service's
 * defaults otherwise); BENCH_HOST_PYTHON (/usr/bin/python3) for the bare baseline; images:
 * SBX_SANDBOX_IMAGE / SBX_SANDBOX_IMAGE_PYTHON_DATA (the `:latest` tags build-image.sh moves
 * otherwise), to measure one build by its content tag whatever was built since.
 *
 * Rows: BENCH_ONLY picks some of the row groups below (a comma list; all by default), run in this
 * order whatever the list's: latency (sequential POST /run, pool at its floor), burst (the burst,
 * then sequential POST /run with the pool it grew), cases (test cases/s), baseline (cold docker and
 * bare python `print(2 + 2)`), cold (cold start: POST /run with a sandbox started for the job), warm
 * (POST /run on a warm sandbox, the pool refilled before each), syscall (syscall-heavy programs
 * through a warm sandbox, a cold docker run and bare python), live (issue 21's live output: the
 * first stdout event beside a plain POST /run, idle and under a batch burst, and what streaming costs
 * a 100k-line program; test/bench/live-output.ts; alone: `npm run bench:live`), idle (the idle pool's cost), charts
 * (python-data), restore (issue 22: python-data sandboxes restored from a checkpoint beside cold ones;
 * test/bench/restore.ts). Ratios to a baseline show only when its group ran. With BENCH_ONLY set the report is
 * only printed unless BENCH_OUTPUT names a file: a partial report must not replace docs/benchmarks.md.
 * E.g. `BENCH_ONLY=baseline,cold,warm,cases,syscall node --import tsx test/bench/bench.ts` (about 2
 * minutes): what issue 18 compares before and after a harness change.
 */
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ENV_VARS, type JobRequest, type RunResult } from '@sbx/shared';
import type { WorkerService } from '@sbx/worker';
import { startStack } from '../support/stack.js';
import { coldChartCommand, measureWarmCharts, timeColdChart } from './chart.js';
import {
  bareHostCommand,
  CODE,
  coldDockerCommand,
  doublingJob,
  EXPECTED,
  envCount,
  type Rate,
  rateAt,
  sequentially,
  timeCommand,
} from './commands.js';
import { LINES_BYTES, measureLines } from './live-lines.js';
import { LIVE_STACK_ENV, measureFirstByteIdle, measureFirstByteUnderBurst } from './live-output.js';
import type { LiveResults } from './live-report.js';
import { describeMachine, loadAverage, machineCpuSeconds } from './machine.js';
import { measureIdleCost, type RestOutcome, readAcquisitions, waitForPoolAtRest } from './pool.js';
import {
  type Probe,
  type Results,
  renderReport,
  type Sequential,
  type StageBreakdown,
  type SyscallRow,
} from './report.js';
import { measureChartLoad, measureStartCosts, type RestoreResults } from './restore.js';
import { SbxHttp } from './sbx-http.js';
import { percentile, type Spread, spread } from './stats.js';
import {
  assertSyscallResult,
  bareSyscallCommand,
  coldSyscallCommand,
  SYSCALL_PROGRAMS,
  syscallJob,
  timeSyscallCommand,
} from './syscalls.js';

type Registry = WorkerService['metrics']['registry'];

/** Row groups, in the order they run (see the header). */
const GROUPS = [
  'latency',
  'burst',
  'cases',
  'baseline',
  'cold',
  'warm',
  'syscall',
  'live',
  'idle',
  'charts',
  'restore',
] as const;
type Group = (typeof GROUPS)[number];

/** BENCH_ONLY as a set of groups; null (every group) when unset. */
function onlyGroups(raw: string | undefined): ReadonlySet<Group> | null {
  if (raw === undefined || raw.trim() === '') return null;
  const names = raw
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !(GROUPS as readonly string[]).includes(n));
  if (unknown.length) throw new Error(`BENCH_ONLY: unknown ${unknown.join(', ')}; the groups are ${GROUPS.join(', ')}`);
  return new Set(names as Group[]);
}

const ONLY = onlyGroups(process.env.BENCH_ONLY);
const runs = (group: Group) => ONLY === null || ONLY.has(group);

const SETTINGS = {
  sequential: envCount('BENCH_SEQUENTIAL', 50),
  burst: envCount('BENCH_BURST', 200),
  testJobs: envCount('BENCH_TEST_JOBS', 20),
  testsPerJob: envCount('BENCH_TESTS', 20),
  baseline: envCount('BENCH_BASELINE', 20),
  baselineBurst: envCount('BENCH_BASELINE_BURST', 40),
  bare: envCount('BENCH_BARE', 50),
  coldStarts: envCount('BENCH_COLD_START', 10),
  warm: envCount('BENCH_WARM', 20),
  syscall: envCount('BENCH_SYSCALL', 5),
  syscallBaseline: envCount('BENCH_SYSCALL_BASELINE', 5),
  charts: envCount('BENCH_CHARTS', 20),
  chartBaseline: envCount('BENCH_CHART_BASELINE', 10),
  restoreStarts: envCount('BENCH_RESTORE_STARTS', 5),
  restoreBurst: envCount('BENCH_RESTORE_BURST', 30),
  restoreSequential: envCount('BENCH_RESTORE_SEQUENTIAL', 20),
  live: envCount('BENCH_LIVE', 20),
  liveBurst: envCount('BENCH_LIVE_BURST', 20),
  liveBurstJobs: envCount('BENCH_LIVE_BURST_JOBS', 200),
  liveLines: envCount('BENCH_LIVE_LINES', 5),
  /** The worker's concurrency, and so the parallelism of the cold docker rate it is compared with. */
  concurrency: 2,
  idleSeconds: 10,
  // Not the pyenv shim on PATH, which adds a second of bash to every spawn: the interpreter itself.
  python: process.env.BENCH_HOST_PYTHON ?? '/usr/bin/python3',
  output:
    process.env.BENCH_OUTPUT ?? (ONLY ? '-' : fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url))),
};

const benchStarted = performance.now();
const log = (message: string) =>
  process.stderr.write(`[bench ${((performance.now() - benchStarted) / 1000).toFixed(0).padStart(3)} s] ${message}\n`);

const failures: { group: Group; message: string }[] = [];

/**
 * Runs one row group, if BENCH_ONLY picked it. A group that fails (a run that printed the wrong thing,
 * a job that never finished) leaves no figures, and the report says so; the other groups still run,
 * so a broken chart at minute fifteen does not take the latency rows with it. The bench then exits 1.
 */
async function group(name: Group, body: () => Promise<void>): Promise<void> {
  if (!runs(name)) return;
  try {
    await body();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log(`${name}: FAILED: ${message}`);
    failures.push({ group: name, message });
  }
}

/**
 * SBX_POOL_MIN/SBX_POOL_MAX from BENCH_POOL_MIN/BENCH_POOL_MAX, else the service's own defaults: the
 * test stack turns the pool off unless told otherwise, and the bench measures the service as shipped.
 * Only variables the config knows are passed.
 */
function poolEnv(): Record<string, string> {
  const defaults = new Map<string, string | undefined>(ENV_VARS.map((v) => [v.name, v.default]));
  const env: Record<string, string> = {};
  for (const [name, override] of [
    ['SBX_POOL_MIN', 'BENCH_POOL_MIN'],
    ['SBX_POOL_MAX', 'BENCH_POOL_MAX'],
    ['SBX_POOL_MIN_PYTHON_DATA', 'BENCH_DATA_POOL_MIN'],
  ] as const) {
    const value = process.env[override] || defaults.get(name);
    if (defaults.has(name) && value !== undefined) env[name] = value;
  }
  return env;
}

/** The sandbox images, when pinned (see the header): the stack reads only the variables it is given. */
function imageEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ['SBX_SANDBOX_IMAGE', 'SBX_SANDBOX_IMAGE_PYTHON_DATA']) {
    const value = process.env[name];
    if (value) env[name] = value;
  }
  return env;
}

function stackEnv(pool: Record<string, string>): Record<string, string> {
  return {
    SBX_WORKER_CONCURRENCY: String(SETTINGS.concurrency),
    SBX_LOG_LEVEL: 'error',
    // Every request counts against the anonymous tenant's 600/min; the polls alone would reach it.
    SBX_RATE_PER_MINUTE: '1000000',
    // python-data's probe and pool only when its rows run.
    SBX_ENVIRONMENTS: runs('charts') || runs('restore') ? 'python,python-data' : 'python',
    // The 100k-line programs ask for a longer time limit than the default, which stays as shipped.
    ...(runs('live') ? LIVE_STACK_ENV : {}),
    ...imageEnv(),
    ...pool,
  };
}

function assertPrintedFour(result: RunResult): void {
  if (result.status !== 'ok' || result.stdout !== EXPECTED)
    throw new Error(`expected ok and ${JSON.stringify(EXPECTED)}, got ${JSON.stringify(result)}`);
}

/** Rate from the first submission to the last result's finished_at: independent of how often we poll. */
function completionRate(count: number, submittedAtMs: number, results: readonly RunResult[]): Rate {
  const lastFinished = Math.max(...results.map((r) => Date.parse(r.finished_at)));
  const seconds = (lastFinished - submittedAtMs) / 1000;
  return { count, seconds, perSecond: count / seconds };
}

interface Timed {
  seconds: number;
  result: RunResult;
}

async function measureSequential(sbx: SbxHttp, count: number): Promise<Timed[]> {
  const timed: Timed[] = [];
  for (let i = 0; i < count; i++) {
    const t = await sbx.run({ code: CODE });
    assertPrintedFour(t.result);
    timed.push(t);
  }
  return timed;
}

function stageBreakdown(timed: readonly Timed[]): StageBreakdown | null {
  const withStages = timed.flatMap((t) => (t.result.stages ? [{ seconds: t.seconds, stages: t.result.stages }] : []));
  if (withStages.length === 0) return null;
  const p50 = (pick: (t: (typeof withStages)[number]) => number) => percentile(withStages.map(pick), 50);
  return {
    queued: p50((t) => t.stages.queued),
    sandbox: p50((t) => t.stages.sandbox),
    run: p50((t) => t.stages.run),
    judge: p50((t) => t.stages.judge),
    storeRespond: p50((t) => t.seconds - (t.stages.queued + t.stages.sandbox + t.stages.run + t.stages.judge)),
    wall: p50((t) => t.seconds),
    warmHits: withStages.filter((t) => t.stages.warm).length,
    n: withStages.length,
  };
}

/** p50 of the client wall, the sandbox and run stages and the program's own time, over one-at-a-time runs. */
function probe(timed: readonly Timed[]): Probe {
  const p50 = (pick: (t: Timed) => number | undefined) =>
    percentile(
      timed.flatMap((t) => {
        const x = pick(t);
        return x === undefined ? [] : [x];
      }),
      50,
    );
  return {
    latency: spread(timed.map((t) => t.seconds)),
    sandbox: p50((t) => t.result.stages?.sandbox),
    run: p50((t) => t.result.stages?.run),
    own: p50((t) => t.result.time),
    warmHits: timed.filter((t) => t.result.stages?.warm).length,
  };
}

/**
 * `count` POST /run of `job`, one at a time, each sent once `ready` resolved (the pool refilled, the
 * last sandbox removed): what one request costs when nothing else of ours shares the CPU with it.
 */
async function measureOneAtATime(
  sbx: SbxHttp,
  count: number,
  job: JobRequest,
  check: (r: RunResult) => void,
  ready: () => Promise<unknown>,
): Promise<Timed[]> {
  const timed: Timed[] = [];
  for (let i = 0; i < count; i++) {
    await ready();
    const t = await sbx.run(job);
    check(t.result);
    timed.push(t);
  }
  return timed;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Counter increase between two readings, by label. */
function counterDelta(before: Map<string, number> | null, after: Map<string, number> | null) {
  if (!after) return null;
  return new Map([...after].map(([k, v]) => [k, v - (before?.get(k) ?? 0)]));
}

async function measureBurst(sbx: SbxHttp, registry: Registry | undefined, count: number) {
  const acquiredBefore = await readAcquisitions(registry);
  const cpuBefore = machineCpuSeconds();
  const submittedAt = Date.now();
  const ids = await sbx.submit(Array.from({ length: count }, () => ({ code: CODE })));
  const results = await sbx.results(ids);
  const cpuPerJob = (machineCpuSeconds() - cpuBefore) / count;
  results.forEach(assertPrintedFour);
  return {
    rate: completionRate(count, submittedAt, results),
    cpuPerJob,
    warmHits: results.filter((r) => r.stages?.warm).length,
    acquisitions: counterDelta(acquiredBefore, await readAcquisitions(registry)),
  };
}

async function measureTestCases(sbx: SbxHttp, jobs: number, perJob: number) {
  const submittedAt = Date.now();
  const ids = await sbx.submit(Array.from({ length: jobs }, () => doublingJob(perJob)));
  const results = await sbx.results(ids);
  for (const r of results)
    if (r.summary?.passed !== perJob)
      throw new Error(`expected ${perJob} accepted tests, got ${JSON.stringify(r.summary ?? r)}`);
  return { jobs, perJob, rate: completionRate(jobs * perJob, submittedAt, results) };
}

/** Ctrl-C mid-run must not leave the pool's containers running: no other deployment's janitor touches them. */
function stopOnInterrupt(stop: () => Promise<void>): void {
  process.once('SIGINT', () => {
    log('interrupted: stopping the stack');
    void stop().finally(() => process.exit(130));
  });
}

const stack = await startStack({ env: stackEnv(poolEnv()) });
stopOnInterrupt(() => stack.stop());
try {
  await stack.app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(stack.app.server.address() as AddressInfo).port}`;
  const sbx = new SbxHttp(base);
  const registry = stack.worker?.metrics.registry;
  const pool = poolEnv();
  const floor = Number(pool.SBX_POOL_MIN ?? 0);
  const machine = await describeMachine(stack.config.sandboxes.python.image, SETTINGS.python, stack.config.runtime);
  // Without a pool gauge only the idle measurement needs the fixed wait: the other waits are for the pool's churn.
  const rest = (until: 'full' | 'floor', restMs: number) =>
    waitForPoolAtRest(registry, floor, {
      until,
      restMs,
      timeoutMs: 150_000,
      fallbackMs: until === 'floor' ? 10_000 : 0,
    });
  if (ONLY) log(`only: ${GROUPS.filter(runs).join(', ')}`);

  log(`pool ${pool.SBX_POOL_MIN ?? '?'}..${pool.SBX_POOL_MAX ?? '?'}: waiting for it to fill`);
  await rest('full', 0);
  log('warm-up: 2 POST /run');
  await measureSequential(sbx, 2);
  const sequential: Sequential[] = [];
  await group('latency', async () => {
    // A quiet service: the pool at its floor, as after a minute without a job it could not serve warm.
    const quietStart = await rest('full', 0);
    log(`latency: ${SETTINGS.sequential} sequential POST /run, pool at its floor`);
    const quiet = await measureSequential(sbx, SETTINGS.sequential);
    sequential.push({
      label: 'pool at its floor',
      latency: spread(quiet.map((t) => t.seconds)),
      stages: stageBreakdown(quiet),
      start: quietStart,
    });
  });
  let burst: Results['burst'];
  await group('burst', async () => {
    log(`throughput: burst of ${SETTINGS.burst} jobs`);
    burst = await measureBurst(sbx, registry, SETTINGS.burst);
    // A busy service: the jobs the pool could not serve in the last minute have raised it towards its ceiling.
    log('waiting for the pool to grow to its target');
    const busyStart = await rest('full', 0);
    log(`latency: ${SETTINGS.sequential} sequential POST /run, pool grown by the last minute's demand`);
    const busy = await measureSequential(sbx, SETTINGS.sequential);
    sequential.push({
      label: "pool grown by the last minute's demand",
      latency: spread(busy.map((t) => t.seconds)),
      stages: stageBreakdown(busy),
      start: busyStart,
    });
  });
  let cases: Results['cases'];
  await group('cases', async () => {
    log('waiting for the pool to refill');
    const casesStart = await rest('full', 0);
    log(
      `test cases: ${SETTINGS.testJobs} jobs × ${SETTINGS.testsPerJob}, from ${casesStart.pool?.idle ?? '?'} idle sandboxes`,
    );
    cases = { ...(await measureTestCases(sbx, SETTINGS.testJobs, SETTINGS.testsPerJob)), start: casesStart };
  });
  let baseline: { cold: NonNullable<Results['cold']>; bare: Spread; rest: RestOutcome } | undefined;
  await group('baseline', async () => {
    log('waiting for the pool to settle at its floor before the baselines');
    const baselineRest = await rest('floor', 5000);
    log(`baseline: ${SETTINGS.baseline} sequential cold docker runs`);
    const cold = coldDockerCommand(stack.config.sandboxes.python.image, stack.config.runtime);
    const coldCpuBefore = machineCpuSeconds();
    const coldLatency = await sequentially(SETTINGS.baseline, () => timeCommand(cold));
    const coldCpuPerRun = (machineCpuSeconds() - coldCpuBefore) / SETTINGS.baseline;
    log(`baseline: ${SETTINGS.baselineBurst} cold docker runs, ${SETTINGS.concurrency} at a time`);
    const coldRate = await rateAt(SETTINGS.baselineBurst, SETTINGS.concurrency, () => timeCommand(cold));
    log(`baseline: ${SETTINGS.bare} bare host python runs`);
    const bare = await sequentially(SETTINGS.bare, () => timeCommand(bareHostCommand(SETTINGS.python)));
    baseline = {
      cold: {
        runtime: stack.config.runtime,
        latency: spread(coldLatency),
        rate: coldRate,
        parallel: SETTINGS.concurrency,
        cpuPerRun: coldCpuPerRun,
      },
      bare: spread(bare),
      rest: baselineRest,
    };
  });
  // The rows below run one request at a time with nothing else of ours running: first the pool at rest.
  if (runs('cold') || runs('warm') || runs('syscall')) {
    log('waiting for the pool to settle at its floor before the one-at-a-time rows');
    await rest('floor', 2000);
  }
  // A job whose memory limit is not the pool's cannot take a pooled sandbox: one is started for it.
  const coldMemoryMb = stack.config.defaultMemoryMb - 1;
  let coldStart: Probe | undefined;
  await group('cold', async () => {
    if (coldMemoryMb < stack.config.minMemoryMb) throw new Error('cold start row: no memory limit below the default');
    log(`cold start: ${SETTINGS.coldStarts} POST /run with memory_mb ${coldMemoryMb}, a sandbox started for each`);
    coldStart = probe(
      await measureOneAtATime(
        sbx,
        SETTINGS.coldStarts,
        { code: CODE, limits: { memory_mb: coldMemoryMb } },
        assertPrintedFour,
        // The last sandbox's removal (about 0.15 CPU-s) must not share the CPU with the next start.
        () => sleep(500),
      ),
    );
  });
  const refilled = () => rest('full', 250);
  let warmRun: Probe | undefined;
  await group('warm', async () => {
    log(`warm run: ${SETTINGS.warm} POST /run, each once the pool has refilled`);
    warmRun = probe(await measureOneAtATime(sbx, SETTINGS.warm, { code: CODE }, assertPrintedFour, refilled));
  });
  let syscalls: SyscallRow[] | undefined;
  await group('syscall', async () => {
    const sbxRuns: Probe[] = [];
    for (const p of SYSCALL_PROGRAMS) {
      log(`syscalls: ${SETTINGS.syscall} POST /run of ${p.label}, each once the pool has refilled`);
      const check = (r: RunResult) => assertSyscallResult(p, r);
      sbxRuns.push(probe(await measureOneAtATime(sbx, SETTINGS.syscall, syscallJob(p), check, refilled)));
    }
    await refilled();
    syscalls = [];
    for (const [i, p] of SYSCALL_PROGRAMS.entries()) {
      log(`syscalls baseline: ${SETTINGS.syscallBaseline} cold docker and bare python runs of ${p.label}`);
      const cold = coldSyscallCommand(stack.config.sandboxes.python.image, stack.config.runtime, p);
      const coldSeconds = await sequentially(SETTINGS.syscallBaseline, () => timeSyscallCommand(p, cold));
      const bare = bareSyscallCommand(SETTINGS.python, p);
      const bareSeconds = await sequentially(SETTINGS.syscallBaseline, () => timeSyscallCommand(p, bare));
      syscalls.push({
        label: p.label,
        sbx: sbxRuns[i] as Probe,
        cold: spread(coldSeconds),
        bare: spread(bareSeconds),
      });
    }
  });
  let live: LiveResults | undefined;
  await group('live', async () => {
    // Filled as it goes: a later part's failure keeps the figures of those before it.
    live = {
      capBytes: stack.config.maxOutputBytes,
      linesBytes: LINES_BYTES,
      defaultTimeMs: stack.config.defaultTimeMs,
    };
    log('live output: waiting for the pool to settle at its floor');
    await rest('floor', 2000);
    log(
      `live output: ${SETTINGS.live} rounds of print(1), then print-sleep-print streamed two ways, each once the pool has refilled`,
    );
    live.idle = await measureFirstByteIdle({ sbx, base, ready: refilled }, SETTINGS.live);
    log(`live output: under a burst of ${SETTINGS.liveBurstJobs} batch jobs, at most ${SETTINGS.liveBurst} rounds`);
    live.burst = await measureFirstByteUnderBurst({ sbx, base }, SETTINGS.liveBurst, SETTINGS.liveBurstJobs);
    log('live output: waiting for the pool to settle at its floor after the burst');
    await rest('floor', 2000);
    log(`live output: ${SETTINGS.liveLines} streamed runs of each 100k-line program, each once the pool has refilled`);
    live.lines = await measureLines({
      base,
      prefix: stack.config.prefix,
      python: SETTINGS.python,
      runs: SETTINGS.liveLines,
      ready: refilled,
    });
  });
  let idle: Results['idle'];
  await group('idle', async () => {
    log('idle pool: waiting for it to sit idle at its floor');
    const idleRest = await rest('floor', 5000);
    log(`idle pool: measuring for ${SETTINGS.idleSeconds} s`);
    idle = { rest: idleRest, cost: await measureIdleCost(stack.config.prefix, SETTINGS.idleSeconds) };
  });
  let chart: Results['chart'];
  await group('charts', async () => {
    log(`charts: ${SETTINGS.charts} sequential POST /run of a 1,000-point chart from a warm python-data sandbox`);
    const charts = await measureWarmCharts(sbx, registry, SETTINGS.charts);
    log(`charts baseline: ${SETTINGS.chartBaseline} cold docker runs of the same chart`);
    const coldCharts = await sequentially(SETTINGS.chartBaseline, () =>
      timeColdChart(coldChartCommand(stack.config.sandboxes['python-data'].image, stack.config.runtime)),
    );
    log(`idle python-data sandbox: measuring for ${SETTINGS.idleSeconds} s`);
    await waitForPoolAtRest(registry, 0, {
      until: 'full',
      restMs: 3000,
      timeoutMs: 60_000,
      fallbackMs: 5000,
      environment: 'python-data',
    });
    const dataIdle = await measureIdleCost(stack.config.prefix, SETTINGS.idleSeconds, 'python-data');
    chart = {
      warm: spread(charts.seconds),
      warmHits: charts.warm,
      runs: SETTINGS.charts,
      pngBytes: charts.pngBytes,
      cold: spread(coldCharts),
      idle: dataIdle,
    };
  });

  let restore: RestoreResults | undefined;
  await group('restore', async () => {
    log(`restore: ${SETTINGS.restoreStarts} python-data sandboxes started cold, then as many restored`);
    const starts = await measureStartCosts(stack.config, SETTINGS.restoreStarts, 'python-data');
    log(
      `restore: start ${starts.cold.cpuSeconds.toFixed(2)} CPU-s cold, ${starts.restored.cpuSeconds.toFixed(2)} restored`,
    );
    log(`restore: the same for ${SETTINGS.restoreStarts} plain python sandboxes`);
    const python = await measureStartCosts(stack.config, SETTINGS.restoreStarts, 'python');
    const load = { burst: SETTINGS.restoreBurst, sequential: SETTINGS.restoreSequential };
    const env = stackEnv({});
    log(`restore: checkpoints off (cold): ${load.sequential} charts 0.3 s apart, then ${load.burst} at once`);
    const off = await measureChartLoad(env, 'off', load);
    log(`restore: off: ${off.burstPerSecond.toFixed(2)} charts/s, 0.3 s apart p50 ${off.sequential.p50.toFixed(2)} s`);
    log('restore: checkpoints on: the same');
    const on = await measureChartLoad(env, 'on', load);
    restore = {
      starts: SETTINGS.restoreStarts,
      ...starts,
      python,
      burst: load.burst,
      sequentialRuns: load.sequential,
      off,
      on,
    };
  });

  const report = renderReport({
    machine,
    service: {
      concurrency: SETTINGS.concurrency,
      pool: pool.SBX_POOL_MAX
        ? `warm pool min ${pool.SBX_POOL_MIN ?? '?'} / max ${pool.SBX_POOL_MAX}`
        : 'pool settings unknown',
    },
    runtime: stack.config.runtime,
    only: ONLY ? GROUPS.filter(runs) : null,
    failures,
    sequential,
    burst,
    cases,
    cold: baseline?.cold,
    bare: baseline?.bare,
    baselineRest: baseline?.rest,
    coldStart,
    coldMemoryMb,
    warmRun,
    syscalls,
    idle,
    chart,
    restore,
    live,
    elapsedSeconds: (performance.now() - benchStarted) / 1000,
    loadAtEnd: loadAverage(),
  });
  process.stdout.write(report);
  // A report with failed groups goes only where it was explicitly sent: never over docs/benchmarks.md.
  if (SETTINGS.output !== '-' && (failures.length === 0 || process.env.BENCH_OUTPUT)) {
    writeFileSync(SETTINGS.output, report);
    log(`written to ${SETTINGS.output}`);
  }
  if (failures.length) {
    log(`failed: ${failures.map((f) => f.group).join(', ')}`);
    process.exitCode = 1;
  }
} finally {
  await stack.stop();
}
