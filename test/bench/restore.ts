/**
 * Issue 22's rows: python-data sandboxes restored from a checkpoint beside the same sandboxes started
 * cold, in one run. What one start costs the machine (CPU-s and wall, to "harness waiting for its
 * job"), then, on a stack each, 30 charts submitted at once and charts sent one after another 0.3 s
 * apart, with SBX_CHECKPOINT_PYTHON_DATA off (cold, the baseline) and on.
 */
import type { AddressInfo } from 'node:net';
import { type Config, ENVIRONMENT_SPECS, type Environment, type RunResult } from '@sbx/shared';
import {
  CheckpointBuilder,
  type CheckpointSource,
  DockerSandboxRunner,
  type SandboxSpec,
  sandboxSettingsFromConfig,
} from '@sbx/worker';
import Docker from 'dockerode';
import { startStack } from '../support/stack.js';
import { assertChart, CHART_CODE } from './chart.js';
import { machineCpuSeconds } from './machine.js';
import { SbxHttp } from './sbx-http.js';
import { mean, type Spread, spread } from './stats.js';

export interface StartCost {
  cpuSeconds: number;
  wall: Spread;
}

export interface ChartLoad {
  /** Charts per second from the first submission to the last result's finished_at. */
  burstPerSecond: number;
  burstCpuPerChart: number;
  /** Client wall of each chart sent 0.3 s after the previous one's result. */
  sequential: Spread;
  warmHits: number;
}

/** One environment's sandbox starts: cold, restored (uncompressed pages), restored from compressed pages. */
export interface StartCosts {
  cold: StartCost;
  restored: StartCost;
  restoredCompressed: StartCost;
}

export interface RestoreResults extends StartCosts {
  starts: number;
  /** The same for the plain python environment, whose pool starts cold by default (SBX_CHECKPOINT). */
  python: StartCosts;
  burst: number;
  sequentialRuns: number;
  off: ChartLoad;
  on: ChartLoad;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const GAP_MS = 300;

/** `n` sandboxes started one at a time by `start`, each removed (uncounted) before the next. */
async function timeStarts(n: number, start: () => Promise<{ dispose(): Promise<void> }>): Promise<StartCost> {
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < n; i++) {
    const cpuBefore = machineCpuSeconds();
    const started = performance.now();
    const sandbox = await start();
    wall.push((performance.now() - started) / 1000);
    cpu.push(machineCpuSeconds() - cpuBefore);
    await sandbox.dispose();
    await sleep(1000);
  }
  return { cpuSeconds: mean(cpu), wall: spread(wall) };
}

/** Cold starts and restores of an environment's sandboxes with a default job's limits, straight on the engine. */
export async function measureStartCosts(config: Config, n: number, environment: Environment): Promise<StartCosts> {
  const docker = new Docker({ socketPath: config.dockerSocket });
  const settings = sandboxSettingsFromConfig(config);
  // A deployment of its own: the stack's worker would remove sandboxes of a worker it has no heartbeat of.
  const labels = { workerId: `bench-${process.pid}`, prefix: `${config.prefix}-starts` };
  const builder = (takeRuntime: string) =>
    new CheckpointBuilder({ docker, settings, dir: config.checkpointDir, takeRuntime, labels });
  const support = await builder(config.checkpointRuntime).engineSupport();
  if ('cold' in support) throw new Error(`checkpoints unavailable here: ${support.cold}`);
  const source: CheckpointSource = { for: () => null, dockerRoot: support.dockerRoot, restored() {}, failed() {} };
  const runner = new DockerSandboxRunner({
    docker,
    settings,
    ...labels,
    keepOutputBytes: 1 << 20,
    wallGraceMs: 1000,
    checkpoints: source,
  });
  const limits: SandboxSpec = {
    time_ms: config.defaultTimeMs,
    memory_mb: config.defaultMemoryMb,
    environment,
  };
  const { checkpoint } = await builder(config.checkpointRuntime).checkpointFor(limits, support.dockerRoot);
  // The candidate left behind: the pages compressed, as Docker's checkpoint API takes them by default.
  const compressed = await builder(config.runtime).checkpointFor(limits, support.dockerRoot);
  const jobId = (i: number) => `bench-start-${environment}-${i}`;
  let i = 0;
  const cold = await timeStarts(n, () => runner.acquire(limits, { jobId: jobId(i++) }));
  const restored = await timeStarts(n, () => runner.restore(limits, { jobId: jobId(i++) }, checkpoint));
  const restoredCompressed = await timeStarts(n, () =>
    runner.restore(limits, { jobId: jobId(i++) }, compressed.checkpoint),
  );
  return { cold, restored, restoredCompressed };
}

/** One stack with checkpoints `mode`: charts one after another 0.3 s apart, then `burst` at once. */
export async function measureChartLoad(
  env: Record<string, string>,
  mode: 'on' | 'off',
  opts: { burst: number; sequential: number },
): Promise<ChartLoad> {
  const stack = await startStack({
    env: {
      ...env,
      SBX_ENVIRONMENTS: 'python,python-data',
      SBX_POOL_MIN: '0',
      SBX_POOL_MIN_PYTHON_DATA: String(ENVIRONMENT_SPECS['python-data'].poolMin),
      SBX_POOL_MAX: '32',
      SBX_CHECKPOINT_PYTHON_DATA: mode,
    },
  });
  try {
    await stack.app.listen({ host: '127.0.0.1', port: 0 });
    const sbx = new SbxHttp(`http://127.0.0.1:${(stack.app.server.address() as AddressInfo).port}`);
    const registry = stack.worker?.metrics.registry;
    const gauge = async (name: string, labels: string) => {
      const text = (await registry?.getSingleMetricAsString(name)) ?? '';
      return Number(
        text
          .split('\n')
          .find((l) => l.includes(labels))
          ?.split(' ')
          .pop() ?? 0,
      );
    };
    // From the state a running service is in: the checkpoint verified (on), the pool at its floor.
    const deadline = performance.now() + 180_000;
    const settled = async () =>
      (mode === 'off' ||
        (await gauge('sbx_sandbox_checkpoint_state', 'environment="python-data",state="restore"')) === 1) &&
      (await gauge('sbx_pool_size', 'state="idle",environment="python-data"')) >= 1;
    while (!(await settled())) {
      if (performance.now() > deadline) throw new Error(`checkpoints ${mode}: the python-data pool never settled`);
      await sleep(250);
    }
    const seconds: number[] = [];
    let warmHits = 0;
    for (let i = 0; i < opts.sequential; i++) {
      const t = await sbx.run({ code: CHART_CODE, environment: 'python-data' });
      assertChart(t.result);
      seconds.push(t.seconds);
      if (t.result.stages?.warm) warmHits += 1;
      await sleep(GAP_MS);
    }
    const cpuBefore = machineCpuSeconds();
    const submittedAt = Date.now();
    const ids = await sbx.submit(
      Array.from({ length: opts.burst }, () => ({ code: CHART_CODE, environment: 'python-data' as const })),
    );
    const results: RunResult[] = await sbx.results(ids, 500);
    results.forEach(assertChart);
    const lastFinished = Math.max(...results.map((r) => Date.parse(r.finished_at)));
    return {
      burstPerSecond: opts.burst / ((lastFinished - submittedAt) / 1000),
      burstCpuPerChart: (machineCpuSeconds() - cpuBefore) / opts.burst,
      sequential: spread(seconds),
      warmHits,
    };
  } finally {
    await stack.stop();
  }
}
