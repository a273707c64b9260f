import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import type { Logger } from 'pino';

const run = promisify(execFile);

/** Where dockerd's containerd listens: its own (Debian's docker.io), or a system one. */
export const CONTAINERD_SOCKETS = ['/var/run/docker/containerd/containerd.sock', '/run/containerd/containerd.sock'];
/** dockerd's namespace in containerd. */
const NAMESPACE = 'moby';
/** What marks a sandbox of ours in a containerd container's OCI spec: the image's CMD runs it. */
const SUPERVISOR = '/opt/sbx/supervisor.py';
/** Younger than this, a container may be one dockerd is still creating: never touched. */
const MIN_AGE_MS = 10_000;

export interface ContainerdOrphanOptions {
  docker: Docker;
  log: Logger;
  /** The containerd socket; the first of CONTAINERD_SOCKETS that exists by default. */
  address?: string;
  /** `ctr`, Debian's containerd client. */
  ctr?: string;
  /**
   * Sandboxes this worker created itself: no one else is still creating those, so they go however
   * young. For the worker's last sweep on stop, when no later sweep of its own would find them.
   */
  ours?: { has(id: string): boolean };
}

/**
 * Removes sandboxes that containerd still holds but dockerd no longer knows. A dockerd killed in
 * the middle of a container start (SIGKILL, a crash) forgets that container, while containerd keeps
 * its task (a runsc sandbox, created or running) and its shim: Docker never removes those, and the
 * janitor's container sweep cannot see them. Only sandboxes of ours (their spec runs the harness)
 * are touched. Needs `ctr` and the containerd socket, which a worker on the host has; a worker in
 * a container without them skips this (returns 0) and relies on the stray-runsc sweep.
 */
export async function reapContainerdOrphans(opts: ContainerdOrphanOptions): Promise<number> {
  const address = opts.address ?? (await firstExisting(CONTAINERD_SOCKETS));
  if (!address) return 0;
  const ctr = (...args: string[]) =>
    run(opts.ctr ?? 'ctr', ['--address', address, '--namespace', NAMESPACE, ...args], { timeout: 10_000 });
  let ids: string[];
  try {
    ids = (await ctr('containers', 'ls', '--quiet')).stdout.split('\n').filter(Boolean);
  } catch {
    return 0; // no ctr here, or containerd away: the next sweep tries again
  }
  if (!ids.length) return 0;
  // Listed after containerd's: a container dockerd creates in between is then already known.
  const known = new Set((await opts.docker.listContainers({ all: true })).map((c) => c.Id));
  let reaped = 0;
  for (const id of ids) {
    if (known.has(id)) continue;
    try {
      const info = JSON.parse((await ctr('containers', 'info', id)).stdout) as {
        CreatedAt?: string;
        Spec?: { process?: { args?: string[] } };
      };
      if (!info.Spec?.process?.args?.includes(SUPERVISOR)) continue;
      if (!opts.ours?.has(id) && Date.now() - Date.parse(info.CreatedAt ?? '') < MIN_AGE_MS) continue;
      await ctr('tasks', 'kill', '--signal', 'SIGKILL', id).catch(() => {});
      await ctr('tasks', 'delete', '--force', id).catch(() => {});
      await ctr('containers', 'delete', id);
      reaped += 1;
      opts.log.info({ container: id.slice(0, 12) }, 'removed a sandbox containerd held and Docker had forgotten');
    } catch (err) {
      // Gone between the listing and now (Docker or containerd removed it): nothing to do.
      if (/not found/.test(String((err as { stderr?: unknown }).stderr ?? ''))) continue;
      opts.log.warn({ err, container: id.slice(0, 12) }, 'could not remove a forgotten containerd sandbox');
    }
  }
  return reaped;
}

async function firstExisting(paths: string[]): Promise<string | null> {
  for (const path of paths) {
    if (
      await access(path).then(
        () => true,
        () => false,
      )
    )
      return path;
  }
  return null;
}
