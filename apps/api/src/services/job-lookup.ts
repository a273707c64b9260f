import {
  internalErrorResult,
  isJobId,
  type JobData,
  type JobView,
  type RunResult,
  redisKeys,
  type Tenant,
} from '@sbx/shared';
import type { Job, Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { WaitEstimates } from './eta.js';
import { JOB_APPEAR_MS } from './idempotency.js';

/** The webhook deliveries, as far as reading a job needs them. */
export interface WebhookStates {
  state(jobId: string): Promise<JobView['webhook'] | null>;
}

/** Reading jobs: whose they are, where they are, their results and artifacts, and waiting for them. */
export class JobLookup {
  private readonly keys;

  constructor(
    private readonly queue: Pick<Queue<JobData>, 'getJob'>,
    private readonly redis: Pick<Redis, 'get'>,
    prefix: string,
    private readonly webhooks: WebhookStates | null,
    private readonly estimates: Pick<WaitEstimates, 'place'>,
  ) {
    this.keys = redisKeys(prefix);
  }

  /**
   * Whether the tenant may see or touch the job; false when it exists and belongs to someone else:
   * callers then answer 404, as for no job. An id not of our shape is nobody's and never reaches
   * Redis; a job with no owner record is nobody's too (every job the API queues gets one, kept past
   * its result), so a name that is not a job of ours can never pass for one.
   */
  async ownedBy(id: string, tenant: Tenant): Promise<boolean> {
    if (!isJobId(id)) return false;
    return (await this.redis.get(this.keys.owner(id))) === tenant.id;
  }

  async result(id: string): Promise<RunResult | null> {
    const raw = await this.redis.get(this.keys.result(id));
    return raw ? (JSON.parse(raw) as RunResult) : null;
  }

  /** Whether a job was queued under this id or has a stored result. */
  async hasJobOrResult(id: string): Promise<boolean> {
    return Boolean((await this.result(id)) || (await this.queue.getJob(id)));
  }

  /** One artifact of a finished job's result, as raw bytes; null when the job or the name is unknown. */
  async artifact(id: string, name: string, tenant: Tenant): Promise<{ mime: string; data: Buffer } | null> {
    if (!(await this.ownedBy(id, tenant))) return null;
    const found = (await this.result(id))?.artifacts?.find((a) => a.name === name);
    return found?.data === undefined ? null : { mime: found.mime, data: Buffer.from(found.data, 'base64') };
  }

  /** Where the job is. Null when no such job exists (or it has expired). */
  async view(id: string, tenant: Tenant): Promise<JobView | null> {
    if (!(await this.ownedBy(id, tenant))) return null;
    const result = await this.result(id);
    if (result) {
      const webhook = await this.webhooks?.state(id);
      return { id, state: 'completed', result, ...(webhook ? { webhook } : {}) };
    }
    const job = await this.queue.getJob(id);
    if (!job) return null;
    const state = await job.getState();
    switch (state) {
      case 'active':
        return { id, state: 'running' };
      case 'failed':
        return { id, state: 'completed', result: internalErrorResult(id, job.data, job.failedReason ?? 'unknown') };
      case 'completed':
        // Completed without a result: written between our two reads, or expired.
        return (await this.result(id).then((r) => (r ? { id, state: 'completed' as const, result: r } : null))) ?? null;
      case 'unknown':
        return null;
      default:
        return { id, state: 'queued', ...(await this.estimates.place(id, job.data)) };
    }
  }

  /** Waits up to `waitMs` for the job to finish; null if it is still queued or running then. */
  async waitForResult(
    job: Job<JobData>,
    events: QueueEvents,
    waitMs: number,
    tenant: Tenant,
  ): Promise<RunResult | null> {
    const id = job.id as string;
    try {
      await job.waitUntilFinished(events, waitMs);
    } catch (err) {
      // Either the wait timed out or the job failed for good; the view tells which.
      if (!/timed out/i.test((err as Error).message)) {
        const view = await this.view(id, tenant);
        if (view?.result) return view.result;
      }
      return null;
    }
    return this.result(id);
  }

  /**
   * The same wait for a job known by id: a replayed Idempotency-Key names a job that may have
   * finished (its result stored, BullMQ's entry trimmed) or may still be running.
   */
  async waitForResultById(id: string, events: QueueEvents, waitMs: number, tenant: Tenant): Promise<RunResult | null> {
    if (!isJobId(id)) return null;
    const deadline = Date.now() + waitMs;
    // A concurrent request holding the same key may have claimed it and not yet queued the job.
    const appearBy = Date.now() + Math.min(waitMs, JOB_APPEAR_MS);
    for (;;) {
      const done = await this.result(id);
      if (done) return done;
      const job = await this.queue.getJob(id);
      if (job) return this.waitForResult(job, events, Math.max(1, deadline - Date.now()), tenant);
      if (Date.now() >= appearBy) return null;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
