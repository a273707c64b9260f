import { ENVIRONMENT_SPECS, type Environment, redisKeys, type ServiceInfo, type WorkerHealth } from '@sbx/shared';
import type { Redis } from 'ioredis';

/** Workers seen within the staleness window, each with the self-check it stored (null while it runs). */
export async function liveWorkers(
  redis: Redis,
  prefix: string,
  staleMs: number,
): Promise<{ id: string; health: WorkerHealth | null }[]> {
  const keys = redisKeys(prefix);
  const live = await redis.zrangebyscore(keys.workers, Date.now() - staleMs, '+inf');
  if (live.length === 0) return [];
  const stored = await redis.hmget(keys.workerHealth, ...live);
  return live.map((id, i) => {
    const raw = stored[i];
    return { id, health: raw ? (JSON.parse(raw) as WorkerHealth) : null };
  });
}

/** What a live worker is doing, as /readyz judges it: only `ready` ones take jobs. */
export const WORKER_STATES = ['ready', 'starting', 'self_check_failed', 'docker_unreachable'] as const;
export type WorkerState = (typeof WORKER_STATES)[number];

/** How many live workers are in each state (sbx_workers): the same rules /readyz answers by. */
export function countWorkerStates(workers: { health: WorkerHealth | null }[]): Record<WorkerState, number> {
  const counts: Record<WorkerState, number> = { ready: 0, starting: 0, self_check_failed: 0, docker_unreachable: 0 };
  for (const { health } of workers) {
    if (!health) counts.starting += 1;
    else if (!health.ok) counts.self_check_failed += 1;
    else if (health.docker_unreachable) counts.docker_unreachable += 1;
    else counts.ready += 1;
  }
  return counts;
}

/** One entry per distinct runtime the live workers found, with how many run on it. */
export function runtimesOf(workers: { health: WorkerHealth | null }[]): ServiceInfo['sandbox'] {
  const byKey = new Map<string, ServiceInfo['sandbox'][number]>();
  for (const { health } of workers) {
    if (!health?.runtime) continue;
    const key = JSON.stringify(health.runtime);
    const entry = byKey.get(key) ?? { ...health.runtime, workers: 0 };
    entry.workers += 1;
    byKey.set(key, entry);
  }
  return [...byKey.values()];
}

/**
 * Environments some live, healthy worker has an image for; null when none has said (none live, all
 * still checking or failed, or older workers that do not report environments): jobs then queue.
 */
export function builtEnvironments(workers: { health: WorkerHealth | null }[]): Set<Environment> | null {
  // A worker that failed its self-check serves nothing: it says nothing about what is built.
  const reporting = workers.filter((w) => w.health?.ok && w.health.environments);
  if (reporting.length === 0) return null;
  return new Set(reporting.flatMap((w) => (w.health?.environments ?? []).map((e) => e.name)));
}

/** GET /info's environments: those offered to the caller, with versions and worker counts from the live workers. */
export function environmentsOf(
  workers: { health: WorkerHealth | null }[],
  offered: Environment[],
  fallback: Environment,
): ServiceInfo['environments'] {
  return offered.map((name) => {
    const having = workers.flatMap((w) => (w.health?.environments ?? []).filter((e) => e.name === name));
    return {
      name,
      description: ENVIRONMENT_SPECS[name].description,
      default: name === fallback,
      versions: having.find((e) => e.versions)?.versions ?? null,
      workers: having.length,
    };
  });
}
