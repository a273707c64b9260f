/** The worker's warm pool from outside: its gauges, and what its idle sandboxes cost the host. */
import { existsSync, readFileSync } from 'node:fs';
import type { Environment } from '@sbx/shared';
import { LABELS, type WorkerService } from '@sbx/worker';
import { commandOutput } from './commands.js';
import { mean, sum } from './stats.js';

type Registry = WorkerService['metrics']['registry'];

export interface PoolGauge {
  idle: number;
  starting: number;
  target: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A metric's values by label value, read in-process (the stack serves no /metrics), summed over the
 * other labels, of one environment's pool when given; null when not exported.
 */
async function metricValues(
  registry: Registry,
  name: string,
  label?: string,
  environment?: Environment,
): Promise<Map<string, number> | null> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return null;
  const { values } = await metric.get();
  const mine = values.filter((v) => !environment || v.labels.environment === environment);
  if (mine.length === 0) return null;
  const out = new Map<string, number>();
  for (const v of mine) {
    const key = String(label ? v.labels[label] : '');
    out.set(key, (out.get(key) ?? 0) + v.value);
  }
  return out;
}

/** sbx_pool_size{state} and sbx_pool_target of one environment's pool (python by default); null while there is none. */
export async function readPool(
  registry: Registry | undefined,
  environment: Environment = 'python',
): Promise<PoolGauge | null> {
  if (!registry) return null;
  const size = await metricValues(registry, 'sbx_pool_size', 'state', environment);
  if (!size) return null;
  const target = (await metricValues(registry, 'sbx_pool_target', undefined, environment))?.get('');
  const idle = size.get('idle') ?? 0;
  return { idle, starting: size.get('starting') ?? 0, target: target ?? idle };
}

/** sbx_pool_acquires_total by outcome (hit, wait, miss); null when the pool is off. */
export async function readAcquisitions(registry: Registry | undefined): Promise<Map<string, number> | null> {
  return registry ? metricValues(registry, 'sbx_pool_acquires_total', 'outcome') : null;
}

export interface RestOutcome {
  /** False when the pool never settled within the timeout (or exports no gauge): figures after it are suspect. */
  settled: boolean;
  seconds: number;
  pool: PoolGauge | null;
}

/**
 * Waits until the pool has started everything it wants (`full`), or until it has also shrunk back to
 * its floor (`floor`), and has stayed so for `restMs`. Reaching the floor takes the pool's demand
 * window after the last job: until then it keeps (and trims) extra sandboxes, and that churn would
 * share the CPU with whatever is measured next. Without the pool gauge there is nothing to watch: a
 * fixed wait stands in.
 */
export async function waitForPoolAtRest(
  registry: Registry | undefined,
  floor: number,
  opts: {
    until: 'full' | 'floor';
    restMs: number;
    timeoutMs: number;
    fallbackMs: number;
    environment?: Environment;
  },
): Promise<RestOutcome> {
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  if (!(await readPool(registry, opts.environment))) {
    await sleep(opts.fallbackMs);
    return { settled: false, seconds: elapsed(), pool: null };
  }
  let restingSince: number | null = null;
  for (;;) {
    const pool = await readPool(registry, opts.environment);
    const full = pool !== null && pool.starting === 0 && pool.idle === pool.target;
    const atRest = full && (opts.until === 'full' || pool?.target === floor);
    const now = performance.now();
    restingSince = atRest ? (restingSince ?? now) : null;
    if (restingSince !== null && now - restingSince >= opts.restMs) return { settled: true, seconds: elapsed(), pool };
    if (now - started > opts.timeoutMs) return { settled: false, seconds: elapsed(), pool };
    await sleep(250);
  }
}

export interface IdleCost {
  containers: number;
  /** Mean over the window of the summed cgroup memory usage (page cache included, as the cgroup counts it). */
  memoryBytes: number;
  /** CPU used by those containers over the window, in cores (1 = one core busy all the time). */
  cpuCores: number;
  seconds: number;
  /** The set of containers changed during the window (one died or was replaced): the figures mix two pools. */
  changed: boolean;
}

/** Running containers of one environment the stack's worker labelled with its prefix: after the workloads, the idle pool. */
export async function poolContainers(prefix: string, environment: Environment = 'python'): Promise<string[]> {
  const out = await commandOutput('docker', [
    'ps',
    '-q',
    '--no-trunc',
    '--filter',
    `label=${LABELS.prefix}=${prefix}`,
    '--filter',
    `label=${LABELS.environment}=${environment}`,
  ]);
  return out === 'unknown' ? [] : out.split('\n').filter(Boolean);
}

const CGROUP_V1 = '/sys/fs/cgroup';

/** A cgroup counter; NaN once the container is gone (its cgroup goes with it). */
function readCounter(path: string): number {
  try {
    return Number(readFileSync(path, 'utf8').trim());
  } catch {
    return Number.NaN;
  }
}
const known = (xs: number[]) => xs.filter((x) => !Number.isNaN(x));
const memoryUsage = (id: string) => readCounter(`${CGROUP_V1}/memory/docker/${id}/memory.usage_in_bytes`);
export const cpuNanoseconds = (id: string) => readCounter(`${CGROUP_V1}/cpuacct/docker/${id}/cpuacct.usage`);

/**
 * Memory and CPU of the prefix's containers over `seconds`, from cgroup v1 (Docker's cgroupfs driver
 * here). Memory is sampled every second and averaged; CPU is the cpuacct delta over the window.
 * Null on a host without Docker's cgroup v1 hierarchy: there is nothing to read.
 */
export async function measureIdleCost(
  prefix: string,
  seconds: number,
  environment: Environment = 'python',
): Promise<IdleCost | null> {
  if (!existsSync(`${CGROUP_V1}/memory/docker`) || !existsSync(`${CGROUP_V1}/cpuacct/docker`)) return null;
  const ids = await poolContainers(prefix, environment);
  const startedAt = performance.now();
  const cpuBefore = ids.map(cpuNanoseconds);
  const memorySamples: number[] = [];
  for (let s = 0; s < seconds; s++) {
    memorySamples.push(sum(known(ids.map(memoryUsage))));
    await sleep(1000);
  }
  const cpuAfter = ids.map(cpuNanoseconds);
  const windowNs = (performance.now() - startedAt) * 1e6;
  const after = new Set(await poolContainers(prefix, environment));
  return {
    containers: ids.length,
    memoryBytes: mean(memorySamples),
    cpuCores: sum(known(cpuAfter.map((ns, i) => ns - (cpuBefore[i] ?? Number.NaN)))) / windowNs,
    seconds: windowNs / 1e9,
    changed: after.size !== ids.length || ids.some((id) => !after.has(id)),
  };
}
