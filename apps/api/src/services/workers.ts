import { redisKeys, type ServiceInfo, type WorkerHealth } from '@sbx/shared';
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
