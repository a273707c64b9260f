import { ApiError, type Environment, type WorkerHealth } from '@sbx/shared';
import { TimedCache } from './timed-cache.js';
import { builtEnvironments } from './workers.js';

/** How long the live workers' environments are trusted before submit reads them again. */
const BUILT_CACHE_MS = 2000;

/**
 * An environment served in config but whose image no live worker has (not built on this fleet) is
 * refused rather than queued for ever. Unknown (no live worker, Redis trouble) lets the job queue,
 * as every job does while workers are away.
 */
export class EnvironmentAvailability {
  private readonly built: TimedCache<Set<Environment> | null>;

  constructor(readLiveWorkers: () => Promise<{ health: WorkerHealth | null }[]>) {
    this.built = new TimedCache(BUILT_CACHE_MS, async () => {
      const workers = await readLiveWorkers().catch(() => null);
      return workers ? builtEnvironments(workers) : null;
    });
  }

  /** Throws environment_not_available for the first of `environments` no live worker has built. */
  async refuseUnbuilt(environments: Environment[]): Promise<void> {
    const refusal = unbuiltRefusal(environments, await this.built.get());
    if (refusal) throw refusal;
  }
}

/** The refusal of the first environment not among those built; null when all are, or nothing is known (`built` null). */
export function unbuiltRefusal(environments: Environment[], built: ReadonlySet<Environment> | null): ApiError | null {
  if (!built) return null;
  for (const environment of new Set(environments))
    if (!built.has(environment))
      return new ApiError(
        'environment_not_available',
        `environment "${environment}" is not built on any live worker (build-image.sh ${environment}, then restart the workers)`,
        { environment, available: [...built] },
      );
  return null;
}
