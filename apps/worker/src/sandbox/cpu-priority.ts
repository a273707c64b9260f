import { readFile, writeFile } from 'node:fs/promises';

/**
 * Docker's lowest CPU weight: a sandbox started ahead of demand only gets CPU nobody else wants, so
 * refilling the pool never slows a job that is running.
 */
export const BACKGROUND_CPU_SHARES = 2;

/** Where the container's CPU weight lives, for the cgroup layouts Docker uses (v1, v2 cgroupfs, v2 systemd). */
const weightFiles = (id: string): [path: string, value: string][] => [
  [`/sys/fs/cgroup/cpu/docker/${id}/cpu.shares`, '1024'],
  [`/sys/fs/cgroup/cpu,cpuacct/docker/${id}/cpu.shares`, '1024'],
  [`/sys/fs/cgroup/docker/${id}/cpu.weight`, '100'],
  [`/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.weight`, '100'],
];

/**
 * Gives a background sandbox the default CPU weight once a job has it. runsc has no `update`
 * command, so Docker cannot do this: the cgroup file is written directly. Where the worker cannot
 * see the host's cgroups (a worker in a container without them mounted) the sandbox keeps the low
 * weight: slower under load, never less safe. Returns whether a weight was written.
 */
export async function raiseCpuPriority(containerId: string): Promise<boolean> {
  for (const [path, value] of weightFiles(containerId)) {
    try {
      await writeFile(path, value);
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
 * CPU quota of a sandbox idle in the pool: 1 ms per 100 ms period, the least the kernel allows there.
 * gVisor's systrap platform wakes every 400 µs for a sandbox's whole life, even with nothing to run
 * (pkg/sentry/platform/systrap/metrics.go): 3-4 % of a core per idle sandbox, a core for a grown pool
 * of 32. Capped, an idle sandbox costs at most 1 %; nothing in it has work to do until a job arrives.
 */
export const IDLE_CPU_QUOTA_US = 1000;

/** Where the container's CPU quota lives, and how the cap is written there (v1 quota alone, v2 `quota period`). */
const quotaFiles = (id: string): [path: string, capped: (original: string) => string][] => [
  [`/sys/fs/cgroup/cpu/docker/${id}/cpu.cfs_quota_us`, () => String(IDLE_CPU_QUOTA_US)],
  [`/sys/fs/cgroup/cpu,cpuacct/docker/${id}/cpu.cfs_quota_us`, () => String(IDLE_CPU_QUOTA_US)],
  [`/sys/fs/cgroup/docker/${id}/cpu.max`, (o) => `${IDLE_CPU_QUOTA_US} ${o.trim().split(/\s+/)[1] ?? '100000'}`],
  [
    `/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.max`,
    (o) => `${IDLE_CPU_QUOTA_US} ${o.trim().split(/\s+/)[1] ?? '100000'}`,
  ],
];

/** A cap written by capIdleCpu: the file and what it held before, to be written back before any job runs. */
export interface CpuCap {
  path: string;
  original: string;
}

/**
 * Caps an idle sandbox's CPU quota. Returns null where the worker cannot see the host's cgroups: the
 * sandbox then idles uncapped, costing CPU, never correctness.
 */
export async function capIdleCpu(containerId: string): Promise<CpuCap | null> {
  for (const [path, capped] of quotaFiles(containerId)) {
    let original: string;
    try {
      original = (await readFile(path, 'utf8')).trim();
    } catch {
      continue; // not this layout
    }
    try {
      await writeFile(path, capped(original));
      return { path, original };
    } catch {
      return null;
    }
  }
  return null;
}

/**
 * Gives the sandbox its quota back. Throws when that fails: a job run under the idle cap would be
 * judged on a sliver of a core, and a wrong verdict is worse than a retried start.
 */
export async function liftCpuCap(cap: CpuCap): Promise<void> {
  await writeFile(cap.path, cap.original);
}
