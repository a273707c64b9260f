import { etaSeconds, type FairQueue, type JobData, type JobView } from '@sbx/shared';
import type { Queue } from 'bullmq';
import { TimedCache } from './timed-cache.js';

/** How long the fleet's start rate is reused for wait estimates. */
const RATE_CACHE_MS = 1000;

export type QueuePlace = Pick<JobView, 'lane' | 'position' | 'eta_seconds'>;

/** Where waiting jobs stand in the fair order, and when they should start at the fleet's recent pace. */
export class WaitEstimates {
  /** The fleet's starts per second, read at most once per RATE_CACHE_MS: GET /jobs?ids= places up to 100 jobs. */
  private readonly rate: TimedCache<number | null>;

  constructor(
    private readonly queue: Pick<Queue<JobData>, 'getJob'>,
    private readonly fair: Pick<FairQueue, 'position' | 'rate'>,
  ) {
    this.rate = new TimedCache(RATE_CACHE_MS, (now) => this.fair.rate(undefined, now));
  }

  /**
   * Where a waiting job stands: its lane, the jobs that will start first, and when it should start.
   * Without `data` (a replayed key) the job is read. Redis trouble leaves the place unknown.
   */
  async place(id: string, data?: JobData): Promise<QueuePlace> {
    try {
      const lane = (data ?? (await this.queue.getJob(id))?.data)?.lane;
      const position = await this.fair.position(id);
      const rate = position === null ? null : await this.rate.get();
      return {
        ...(lane ? { lane } : {}),
        position,
        eta_seconds: position === null ? null : etaSeconds(position, rate),
      };
    } catch {
      return { position: null, eta_seconds: null };
    }
  }
}
