import { type Job, UnrecoverableError } from 'bullmq';
import type { DeliveryOutcome } from './deliver.js';
import type { DeliveryAttempt } from './delivery-attempt.js';
import type { DeliveryStateStore } from './delivery-state.js';
import type { WebhookLogger } from './logger.js';
import { WebhookTargetError } from './target-guard.js';

/** A BullMQ delivery job: one attempt series of one logical delivery. */
export interface DeliveryJobData {
  jobId: string;
  webhookId: string;
}

/** What the processor needs of a BullMQ job it was handed. */
export type DeliveryJob = Pick<Job<DeliveryJobData>, 'data' | 'attemptsMade'>;

/** What the backstop needs of a job BullMQ failed. */
export type FailedDeliveryJob = Pick<Job<DeliveryJobData>, 'data' | 'getState'>;

export type DeliveryJobResult = { skipped: true } | { skipped: false; status: number | null };

/** A failed attempt; carries the receiver's Retry-After to the backoff strategy. */
export class DeliveryAttemptError extends Error {
  override readonly name = 'DeliveryAttemptError';
  constructor(
    message: string,
    readonly retryAfterMs: number | null,
  ) {
    super(message);
  }
}

export interface DeliveryProcessorContext {
  store: Pick<DeliveryStateStore, 'pending' | 'record'>;
  attempt: DeliveryAttempt;
  /** Tries per logical delivery, first one included: the last one that fails ends the delivery failed. */
  maxAttempts: number;
  /** The service's signing secret, for deliveries without a signer or whose signer has none. */
  secret: string;
  /** A signer's own secret (e.g. a tenant's); undefined when it has none. */
  secretFor?: ((signer: string) => string | undefined) | undefined;
  log: Pick<WebhookLogger, 'child'>;
}

const now = () => new Date().toISOString();

/** Runs one attempt of a BullMQ delivery job and records its outcome in the delivery's hash. */
export class DeliveryProcessor {
  constructor(private readonly ctx: DeliveryProcessorContext) {}

  async process(job: DeliveryJob): Promise<DeliveryJobResult> {
    const { ctx } = this;
    const { jobId, webhookId } = job.data;
    const pending = await ctx.store.pending(jobId, webhookId);
    if (!pending) return { skipped: true };
    const attemptNo = job.attemptsMade + 1;
    const log = ctx.log.child({ job: jobId, webhook_id: webhookId, attempt: attemptNo });
    let outcome: DeliveryOutcome;
    try {
      const secret = (pending.signer && ctx.secretFor?.(pending.signer)) || ctx.secret;
      const { url, body, method } = pending;
      outcome = await ctx.attempt({ url, body, webhookId, secret, ...(method ? { method } : {}) });
    } catch (err) {
      if (!(err instanceof WebhookTargetError)) throw err;
      return this.refused(job.data, err, log);
    }
    if (outcome.ok) return this.delivered(job.data, outcome, log);
    return this.failed(job.data, outcome, attemptNo >= ctx.maxAttempts, log);
  }

  /**
   * Backstop for endings the processor did not record itself (an unexpected error on the last
   * attempt, a job failed for stalling too often). BullMQ emits 'failed' for retried attempts too,
   * so only a job that really ended failed counts; the compare-and-set makes a repeat harmless.
   */
  async jobFailed(job: FailedDeliveryJob, err: Error): Promise<void> {
    if ((await job.getState()) !== 'failed') return;
    await this.ctx.store.record(job.data.jobId, job.data.webhookId, 0, { state: 'failed', last_error: err.message });
  }

  /** A refused or malformed target will not get better by waiting: fail for good, no retries. */
  private async refused(
    { jobId, webhookId }: DeliveryJobData,
    err: WebhookTargetError,
    log: WebhookLogger,
  ): Promise<never> {
    await this.ctx.store.record(jobId, webhookId, 1, {
      state: 'failed',
      last_status: '',
      last_error: `${err.code}: ${err.message}`,
      last_attempt_at: now(),
    });
    log.warn({ code: err.code, reason: err.message }, 'webhook target refused');
    throw new UnrecoverableError(`${err.code}: ${err.message}`);
  }

  private async delivered(
    { jobId, webhookId }: DeliveryJobData,
    outcome: DeliveryOutcome,
    log: WebhookLogger,
  ): Promise<DeliveryJobResult> {
    const at = now();
    await this.ctx.store.record(jobId, webhookId, 1, {
      state: 'delivered',
      last_status: String(outcome.status),
      last_error: '',
      last_attempt_at: at,
      delivered_at: at,
    });
    log.info({ status: outcome.status, ms: outcome.durationMs }, 'webhook delivered');
    return { skipped: false, status: outcome.status };
  }

  private async failed(
    { jobId, webhookId }: DeliveryJobData,
    outcome: DeliveryOutcome,
    final: boolean,
    log: WebhookLogger,
  ): Promise<never> {
    await this.ctx.store.record(jobId, webhookId, 1, {
      state: final ? 'failed' : 'pending',
      last_status: outcome.status === null ? '' : String(outcome.status),
      last_error: outcome.error ?? 'unknown',
      last_attempt_at: now(),
    });
    log.warn({ status: outcome.status, error: outcome.error, final }, 'webhook attempt failed');
    throw new DeliveryAttemptError(outcome.error ?? 'delivery failed', outcome.retryAfterMs);
  }
}
