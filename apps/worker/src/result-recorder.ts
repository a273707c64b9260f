import {
  type JobData,
  JUDGE0_CALLBACK_SHAPE,
  jobReceipt,
  judge0CallbackBody,
  type RedisRoom,
  type RunResult,
  type StorageLedger,
  type StoreOutcome,
  withoutArtifactData,
} from '@sbx/shared';
import type { WebhookService } from '@sbx/webhooks';
import type { Logger } from 'pino';
import type { ResultStore, RunStart } from './result-store.js';

export interface ResultRecorderContext {
  results: Pick<ResultStore, 'store' | 'started'> & Partial<Pick<ResultStore, 'keepJudge0Record'>>;
  /** A stored result's JSON, null when the job has none. */
  storedResult: (jobId: string) => Promise<string | null>;
  /** Waits for room while Redis is at its memory limit. */
  room: Pick<RedisRoom, 'retrying'>;
  /** The tenants' stored-bytes quota. */
  ledger: Pick<StorageLedger, 'add'>;
  /** Resolves once what this worker wrote is on the replicas asked for (see patientReplicaConfirm). */
  confirmReplicated: () => Promise<void>;
  /** Null when webhooks are off. */
  webhooks: Pick<WebhookService, 'enqueue'> | null;
  log: Pick<Logger, 'warn'>;
}

/**
 * Where a run's result goes once it exists: the result store (never over another result; with a lock
 * token, only while the run holds the job's lock), the tenant's stored-bytes quota, the replicas
 * (before BullMQ marks the job done), and the job's webhook.
 */
export class ResultRecorder {
  constructor(private readonly ctx: ResultRecorderContext) {}

  /**
   * Records the result and, when it was stored and the job asked for one, queues its signed webhook.
   * While Redis is at its memory limit both wait for room, as long as it takes: failing here would
   * spend an attempt the run did not use, and on the last one give the job an internal_error it did
   * not earn.
   */
  async record(result: RunResult, data: JobData, token?: string): Promise<StoreOutcome> {
    const { ctx } = this;
    const outcome = await ctx.room.retrying(
      () => ctx.results.store(result, token, jobReceipt(data)),
      () => ctx.log.warn({ job: result.id }, 'Redis is full: this result waits for room'),
    );
    // Counted against the tenant's stored-bytes quota; uncounted, it only lets the tenant store a little more.
    if (outcome === 'stored')
      ctx.ledger
        .add(data.tenant_id ?? 'anonymous', Buffer.byteLength(JSON.stringify(result)))
        .catch((err) => ctx.log.warn({ err }, 'could not count a result against its tenant quota'));
    if (outcome === 'stored' && data.judge0)
      await ctx.results
        .keepJudge0Record?.(result.id)
        .catch((err) => ctx.log.warn({ err, job: result.id }, 'could not align the Judge0 record with its result'));
    if (outcome !== 'stored')
      ctx.log.warn({ job: result.id, outcome, attempt: result.run?.attempt }, 'result of this run not stored');
    // Before BullMQ marks the job done: a result the replicas lack could vanish in a failover while
    // the job stays completed. Short, this throws and the job's retry finds the result and confirms again.
    await ctx.confirmReplicated();
    if (outcome === 'stored' && data.callback_url && ctx.webhooks) {
      const { webhooks } = ctx;
      const { callback_url: url, tenant_id: signer } = data;
      // A Judge0 submission's callback is Judge0's PUT of the submission (compat/judge0), not ours.
      const payload = data.judge0 ? judge0CallbackBody(result, data.judge0) : withoutArtifactData(result);
      const shape = data.judge0 ? JUDGE0_CALLBACK_SHAPE : undefined;
      await ctx.room.retrying(() => webhooks.enqueue(result.id, url, payload, signer, shape));
    }
    return outcome;
  }

  /**
   * The status of a result an earlier run stored (a job retaken after its worker died may have
   * finished already), confirmed on the replicas again: that run may have died before it confirmed.
   * Null when there is none.
   */
  async alreadyRecorded(jobId: string): Promise<{ status: RunResult['status'] } | null> {
    const existing = await this.ctx.storedResult(jobId);
    if (!existing) return null;
    await this.ctx.confirmReplicated();
    return { status: (JSON.parse(existing) as RunResult).status };
  }

  /** Logs that a run started. Not awaited by the run: the log is evidence, and a run goes on while Redis is away. */
  runStarted(jobId: string, run: RunStart): void {
    this.ctx.results.started(jobId, run).catch(() => {});
  }
}
