import { readFile, writeFile } from 'node:fs/promises';

/**
 * Docker's lowest CPU weight: a sandbox started ahead of demand only gets CPU nobody else wants, so
 * refilling the pool never slows a job that is running.
 */
export const BACKGROUND_CPU_SHARES = 2;

/** The container's CPU cgroup, for the layouts Docker uses (v1, v2 cgroupfs, v2 systemd). */
const cgroupDirs = (id: string): { dir: string; v2: boolean }[] => [
  { dir: `/sys/fs/cgroup/cpu/docker/${id}`, v2: false },
  { dir: `/sys/fs/cgroup/cpu,cpuacct/docker/${id}`, v2: false },
  { dir: `/sys/fs/cgroup/docker/${id}`, v2: true },
  { dir: `/sys/fs/cgroup/system.slice/docker-${id}.scope`, v2: true },
];

/**
 * Gives a background sandbox the default CPU weight once a job has it. runsc has no `update`
 * command, so Docker cannot do this: the cgroup file is written directly. Where the worker cannot
 * see the host's cgroups (a worker in a container without them mounted) the sandbox keeps the low
 * weight: slower under load, never less safe. Returns whether a weight was written.
 */
export async function raiseCpuPriority(containerId: string): Promise<boolean> {
  for (const { dir, v2 } of cgroupDirs(containerId)) {
    try {
      // Docker's default weight, in each version's units.
      await writeFile(v2 ? `${dir}/cpu.weight` : `${dir}/cpu.shares`, v2 ? '100' : '1024');
      return true;
    } catch {
      // Not this layout: try the next one.
    }
  }
  return false;
}

/**
 * A background start a job may come to need before it finishes: raising the ticket gives the
 * container the default weight as soon as it exists (or at once, if it already does).
 */
export class StartTicket {
  private id: string | undefined;
  private raised = false;

  created(containerId: string): void {
    this.id = containerId;
    if (this.raised) void raiseCpuPriority(containerId);
  }

  raise(): void {
    if (this.raised) return;
    this.raised = true;
    if (this.id) void raiseCpuPriority(this.id);
  }
}

/**
 * CPU of a sandbox idle in the pool: 1 ms per 200 ms period (0.5 % of a core). gVisor's systrap platform
 * wakes every 400 µs for a sandbox's whole life, even with nothing to run
 * (pkg/sentry/platform/systrap/metrics.go): 3-4 % of a core per idle sandbox, a core for a grown pool
 * of 32. Nothing in an idle sandbox has work to do until a job arrives, and lifting the cap (writing the
 * quota back) unthrottles it at once.
 */
export const IDLE_CPU_QUOTA_US = 1000;
export const IDLE_CPU_PERIOD_US = 200_000;

/** A cap written by capIdleCpu: each file and what it held before, to be written back (in order) before any job runs. */
export interface CpuCap {
  restore: [path: string, value: string][];
}

/**
 * Caps an idle sandbox's CPU. Returns null where the worker cannot see the host's cgroups: the
 * sandbox then idles uncapped, costing CPU, never correctness.
 */
export async function capIdleCpu(containerId: string): Promise<CpuCap | null> {
  for (const { dir, v2 } of cgroupDirs(containerId)) {
    // The bandwidth: v1 quota and period files, v2 `cpu.max`.
    const files = v2 ? [`${dir}/cpu.max`] : [`${dir}/cpu.cfs_quota_us`, `${dir}/cpu.cfs_period_us`];
    let originals: string[];
    try {
      originals = await Promise.all(files.map(async (f) => (await readFile(f, 'utf8')).trim()));
    } catch {
      continue; // not this layout
    }
    try {
      if (v2) await writeFile(`${dir}/cpu.max`, `${IDLE_CPU_QUOTA_US} ${IDLE_CPU_PERIOD_US}`);
      else {
        await writeFile(`${dir}/cpu.cfs_quota_us`, String(IDLE_CPU_QUOTA_US));
        await writeFile(`${dir}/cpu.cfs_period_us`, String(IDLE_CPU_PERIOD_US));
      }
    } catch {
      return null;
    }
    // Period first, then the quota: the quota write is what unthrottles the group.
    return { restore: files.map((f, i) => [f, originals[i] ?? '']).reverse() as CpuCap['restore'] };
  }
  return null;
}

/**
 * Gives the sandbox its CPU back. Throws when that fails: a job run under the idle cap would be
 * judged on a sliver of a core, and a wrong verdict is worse than a retried start.
 */
export async function liftCpuCap(cap: CpuCap): Promise<void> {
  for (const [path, value] of cap.restore) await writeFile(path, value);
}
