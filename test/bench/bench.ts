/**
 * `npm run bench`: what a caller waits for and what the service sustains, beside what it replaces
 * (a cold `docker run --runtime=runsc` per job) and what it cannot beat (a bare host interpreter),
 * all measured in one run on this machine; plus where a request spends its time and what the idle
 * warm pool costs. Prints a Markdown report and writes it to docs/benchmarks.md (BENCH_OUTPUT, or
 * `-` to only print). A script, not a test: the only assertions are that every run printed what it
 * should, because figures from broken runs are worse than none.
 *
 * Sizes: BENCH_SEQUENTIAL (50), BENCH_BURST (200), BENCH_TEST_JOBS (20) × BENCH_TESTS (20),
 * BENCH_BASELINE (20), BENCH_BASELINE_BURST (40), BENCH_BARE (50); pool: BENCH_POOL_MIN/BENCH_POOL_MAX
 * (the service's defaults otherwise); BENCH_HOST_PYTHON (/usr/bin/python3) for the bare baseline.
 */
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ENV_VARS, type RunResult } from '@sbx/shared';
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
import { describeMachine, loadAverage, machineCpuSeconds } from './machine.js';
import { measureIdleCost, readAcquisitions, waitForPoolAtRest } from './pool.js';
import { renderReport, type StageBreakdown } from './report.js';
import { SbxHttp } from './sbx-http.js';
import { percentile, spread } from './stats.js';

type Registry = WorkerService['metrics']['registry'];

const SETTINGS = {
  sequential: envCount('BENCH_SEQUENTIAL', 50),
  burst: envCount('BENCH_BURST', 200),
  testJobs: envCount('BENCH_TEST_JOBS', 20),
  testsPerJob: envCount('BENCH_TESTS', 20),
  baseline: envCount('BENCH_BASELINE', 20),
  baselineBurst: envCount('BENCH_BASELINE_BURST', 40),
  bare: envCount('BENCH_BARE', 50),
  charts: envCount('BENCH_CHARTS', 20),
  chartBaseline: envCount('BENCH_CHART_BASELINE', 10),
  /** The worker's concurrency, and so the parallelism of the cold docker rate it is compared with. */
  concurrency: 2,
  idleSeconds: 10,
  // Not the pyenv shim on PATH, which adds a second of bash to every spawn: the interpreter itself.
  python: process.env.BENCH_HOST_PYTHON ?? '/usr/bin/python3',
  output: process.env.BENCH_OUTPUT ?? fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url)),
};

const benchStarted = performance.now();
const log = (message: string) =>
  process.stderr.write(`[bench ${((performance.now() - benchStarted) / 1000).toFixed(0).padStart(3)} s] ${message}\n`);

/**
 * SBX_POOL_MIN/SBX_POOL_MAX from BENCH_POOL_MIN/BENCH_POOL_MAX, else the service's own defaults: the
 * test stack turns the pool off unless told otherwise, and the bench measures the service as shipped.
 * Only variables the config knows are passed.
 */
function poolEnv(): Record<string, string> {
  const defaults = new Map<string, string | undefined>(Object.values(ENV_VARS).map((v) => [v.name, v.default]));
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

function stackEnv(pool: Record<string, string>): Record<string, string> {
  return {
    SBX_WORKER_CONCURRENCY: String(SETTINGS.concurrency),
    SBX_LOG_LEVEL: 'error',
    // Every request counts against the anonymous tenant's 600/min; the polls alone would reach it.
    SBX_RATE_PER_MINUTE: '1000000',
    SBX_ENVIRONMENTS: 'python,python-data',
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

async function measureSequential(sbx: SbxHttp, runs: number): Promise<Timed[]> {
  const timed: Timed[] = [];
  for (let i = 0; i < runs; i++) {
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
  const sbx = new SbxHttp(`http://127.0.0.1:${(stack.app.server.address() as AddressInfo).port}`);
  const registry = stack.worker?.metrics.registry;
  const pool = poolEnv();
  const floor = Number(pool.SBX_POOL_MIN ?? 0);
  const machine = await describeMachine(stack.config.image, SETTINGS.python, stack.config.runtime);
  // Without a pool gauge only the idle measurement needs the fixed wait: the other waits are for the pool's churn.
  const rest = (until: 'full' | 'floor', restMs: number) =>
    waitForPoolAtRest(registry, floor, {
      until,
      restMs,
      timeoutMs: 150_000,
      fallbackMs: until === 'floor' ? 10_000 : 0,
    });

  log(`pool ${pool.SBX_POOL_MIN ?? '?'}..${pool.SBX_POOL_MAX ?? '?'}: waiting for it to fill`);
  await rest('full', 0);
  log('warm-up: 2 POST /run');
  await measureSequential(sbx, 2);
  // A quiet service: the pool at its floor, as after a minute without a job it could not serve warm.
  const quietStart = await rest('full', 0);
  log(`latency: ${SETTINGS.sequential} sequential POST /run, pool at its floor`);
  const quiet = await measureSequential(sbx, SETTINGS.sequential);
  log(`throughput: burst of ${SETTINGS.burst} jobs`);
  const burst = await measureBurst(sbx, registry, SETTINGS.burst);
  // A busy service: the jobs the pool could not serve in the last minute have raised it towards its ceiling.
  log('waiting for the pool to grow to its target');
  const busyStart = await rest('full', 0);
  log(`latency: ${SETTINGS.sequential} sequential POST /run, pool grown by the last minute's demand`);
  const busy = await measureSequential(sbx, SETTINGS.sequential);
  log('waiting for the pool to refill');
  const casesStart = await rest('full', 0);
  log(
    `test cases: ${SETTINGS.testJobs} jobs × ${SETTINGS.testsPerJob}, from ${casesStart.pool?.idle ?? '?'} idle sandboxes`,
  );
  const cases = { ...(await measureTestCases(sbx, SETTINGS.testJobs, SETTINGS.testsPerJob)), start: casesStart };
  log('waiting for the pool to settle at its floor before the baselines');
  const baselineRest = await rest('floor', 5000);
  log(`baseline: ${SETTINGS.baseline} sequential cold docker runs`);
  const cold = coldDockerCommand(stack.config.image, stack.config.runtime);
  const coldCpuBefore = machineCpuSeconds();
  const coldLatency = await sequentially(SETTINGS.baseline, () => timeCommand(cold));
  const coldCpuPerRun = (machineCpuSeconds() - coldCpuBefore) / SETTINGS.baseline;
  log(`baseline: ${SETTINGS.baselineBurst} cold docker runs, ${SETTINGS.concurrency} at a time`);
  const coldRate = await rateAt(SETTINGS.baselineBurst, SETTINGS.concurrency, () => timeCommand(cold));
  log(`baseline: ${SETTINGS.bare} bare host python runs`);
  const bare = await sequentially(SETTINGS.bare, () => timeCommand(bareHostCommand(SETTINGS.python)));
  log('idle pool: waiting for it to sit idle at its floor');
  const idleRest = await rest('floor', 5000);
  log(`idle pool: measuring for ${SETTINGS.idleSeconds} s`);
  const idle = await measureIdleCost(stack.config.prefix, SETTINGS.idleSeconds);
  log(`charts: ${SETTINGS.charts} sequential POST /run of a 1,000-point chart from a warm python-data sandbox`);
  const charts = await measureWarmCharts(sbx, registry, SETTINGS.charts);
  log(`charts baseline: ${SETTINGS.chartBaseline} cold docker runs of the same chart`);
  const coldCharts = await sequentially(SETTINGS.chartBaseline, () =>
    timeColdChart(coldChartCommand(stack.config.dataImage, stack.config.runtime)),
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

  const report = renderReport({
    machine,
    service: {
      concurrency: SETTINGS.concurrency,
      pool: pool.SBX_POOL_MAX
        ? `warm pool min ${pool.SBX_POOL_MIN ?? '?'} / max ${pool.SBX_POOL_MAX}`
        : 'pool settings unknown',
    },
    sequential: [
      {
        label: 'pool at its floor',
        latency: spread(quiet.map((t) => t.seconds)),
        stages: stageBreakdown(quiet),
        start: quietStart,
      },
      {
        label: "pool grown by the last minute's demand",
        latency: spread(busy.map((t) => t.seconds)),
        stages: stageBreakdown(busy),
        start: busyStart,
      },
    ],
    burst,
    cases,
    cold: {
      runtime: stack.config.runtime,
      latency: spread(coldLatency),
      rate: coldRate,
      parallel: SETTINGS.concurrency,
      cpuPerRun: coldCpuPerRun,
    },
    bare: spread(bare),
    baselineRest,
    idleRest,
    idle,
    chart: {
      warm: spread(charts.seconds),
      warmHits: charts.warm,
      runs: SETTINGS.charts,
      pngBytes: charts.pngBytes,
      cold: spread(coldCharts),
      idle: dataIdle,
    },
    elapsedSeconds: (performance.now() - benchStarted) / 1000,
    loadAtEnd: loadAverage(),
  });
  process.stdout.write(report);
  if (SETTINGS.output !== '-') {
    writeFileSync(SETTINGS.output, report);
    log(`written to ${SETTINGS.output}`);
  }
} finally {
  await stack.stop();
}
