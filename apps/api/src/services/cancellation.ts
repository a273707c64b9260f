import {
  type ApiConfig,
  cancelledResult,
  type FairQueue,
  type JobData,
  JUDGE0_CALLBACK_SHAPE,
  judge0CallbackBody,
  redisKeys,
  type Tenant,
  writePastLimit,
} from '@sbx/shared';
import type { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { JobLookup } from './job-lookup.js';

/** The webhook deliveries, as far as cancelling needs them: a cancelled job's callback is still sent. */
export interface CallbackQueue {
  enqueue(
    jobId: string,
    url: string,
    payload: unknown,
    signer?: string,
    shape?: { method: 'POST' | 'PUT'; envelope: boolean },
  ): Promise<void>;
}

export type CancelOutcome = 'cancelled' | 'cancelling' | 'finished' | null;

/** Cancelling jobs: queued ones are removed here, running ones are stopped by their worker. */
export class Cancellation {
  private readonly keys;

  constructor(
    private readonly queue: Pick<Queue<JobData>, 'getJob'>,
    private readonly redis: Pick<Redis, 'set' | 'publish' | 'eval' | 'call' | 'expire'>,
    private readonly config: Pick<ApiConfig, 'prefix' | 'resultTtlSeconds'>,
    private readonly fair: Pick<FairQueue, 'release'>,
    private readonly lookup: Pick<JobLookup, 'ownedBy' | 'result'>,
    private readonly webhooks: CallbackQueue | null,
  ) {
    this.keys = redisKeys(config.prefix);
  }

  /**
   * A queued job is removed and recorded as cancelled. A running one is flagged and its worker told to
   * kill the container; the worker records the cancellation. Finished jobs cannot be cancelled.
   */
  async cancel(id: string, tenant: Tenant): Promise<CancelOutcome> {
    if (!(await this.lookup.ownedBy(id, tenant))) return null;
    if (await this.lookup.result(id)) return 'finished';
    const job = await this.queue.getJob(id);
    if (!job) return null;
    await this.redis.set(this.keys.cancelFlag(id), '1', 'EX', 86_400);
    const state = await job.getState();
    if (state === 'completed' || state === 'failed') return 'finished';
    if (state !== 'active' && (await this.removeQueued(id, job))) return 'cancelled';
    await this.redis.publish(this.keys.cancelChannel, id);
    return 'cancelling';
  }

  /** Takes a waiting job out of the queue and stores its cancelled result; false when a worker took it first. */
  private async removeQueued(id: string, job: Job<JobData>): Promise<boolean> {
    // remove() fails if a worker locked the job meanwhile: then it is running and the flag stops it.
    const removed = await job.remove().then(
      () => true,
      () => false,
    );
    if (!removed) return false;
    if (job.data.tenant_id) await this.fair.release(job.data.tenant_id, [id]);
    const cancelled = cancelledResult(id, job.data);
    // First, and even at Redis's memory limit: out of the queue, the job now exists only as this
    // result (a few hundred bytes), and without it would be lost.
    await writePastLimit(this.redis, 'SET', this.keys.result(id), [
      JSON.stringify(cancelled),
      'EX',
      this.config.resultTtlSeconds,
      'NX',
    ]);
    const { callback_url: url, tenant_id: signer, judge0 } = job.data;
    // Its Judge0 record (compat/judge0/records.ts) now lives as long as this result.
    if (judge0) await this.redis.expire(this.keys.judge0(id), this.config.resultTtlSeconds);
    if (url && judge0)
      await this.webhooks?.enqueue(id, url, judge0CallbackBody(cancelled, judge0), signer, JUDGE0_CALLBACK_SHAPE);
    else if (url) await this.webhooks?.enqueue(id, url, cancelled, signer);
    return true;
  }
}
