import { writeFile } from 'node:fs/promises';

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
