import type { FairQueue, JobData, RunResult } from '@sbx/shared';
import { DelayedError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { CancelChannel } from './cancel-channel.js';
import type { EngineVerdict } from './engine-outage.js';
import {
  cancelledRunResult,
  engineAwayResult,
  failedForGoodResult,
  finishedResult,
  runStart,
  runsBefore,
} from './job-results.js';
import type { LiveRuns } from './live/live-runs.js';
import type { WorkerMetrics } from './metrics.js';
import type { JobOutcome } from './queue-worker.js';
import type { ResultRecorder } from './result-recorder.js';
import type { RunStart } from './result-store.js';
import type { Sandboxes } from './sandboxes.js';
import type { SlottedJob } from './tenant-slots.js';

/** While the engine is away, a job younger than SBX_DOCKER_WAIT_MS is looked at again this often. */
const DOCKER_RETRY_MS = 1000;

/** What the processor needs of a BullMQ job it was handed. */
export type TakenJob = SlottedJob & Pick<Job<JobData>, 'attemptsMade' | 'stalledCounter'>;

/** What the processor needs of a job BullMQ failed. */
export type FailedJob = Pick<Job<JobData>, 'id' | 'data' | 'attemptsMade' | 'stalledCounter' | 'finishedOn'>;

export interface JobProcessorContext {
  /** This worker's id: on each run's evidence, and in the result of a job failed for its engine. */
  workerId: string;
  /** SBX_DOCKER_WAIT_MS: how long a run lost with the engine waits for it before its retry. */
  dockerWaitMs: number;
  /** The sandbox runtime: runs without gVisor (runsc) are logged as such. */
  runtime: string;
  /** The engine: the outage's verdict on a job taken now, and the watch's probes. */
  engine: {
    judge(submittedAt: string): EngineVerdict;
    check(): Promise<boolean>;
    waitUntilUp(ms: number): Promise<boolean>;
  };
  /** The tenant's running cap: a job enters a slot before it runs, or is parked. */
  slots: { enter(job: TakenJob, token: string | undefined): Promise<boolean>; leave(job: TakenJob): Promise<void> };
  /** The fair order: a taken job's round is being served, and a batch job may be due at the front. */
  fair: Pick<FairQueue, 'started'>;
  /** Moves a waiting job to the front of the queue; false when it left first. */
  promote: (jobId: string) => Promise<boolean>;
  recorder: Pick<ResultRecorder, 'record' | 'alreadyRecorded' | 'runStarted'>;
  cancels: Pick<CancelChannel, 'track' | 'untrack' | 'requested'>;
  sandboxes: Pick<Sandboxes, 'execute' | 'jobStarted' | 'jobEnded'>;
  /** The job's viewers: told the run started, and handed its output as it arrives. */
  live: Pick<LiveRuns, 'start'>;
  metrics: Pick<
    WorkerMetrics,
    'runs' | 'queueWait' | 'infraFailures' | 'runDuration' | 'jobDuration' | 'batchPromotions'
  >;
  log: Logger;
}

/** A job this run has taken, holding its tenant's slot. */
interface Taken {
  job: TakenJob;
  jobId: string;
  token: string | undefined;
  run: RunStart;
  /** performance.now() when the processor was handed the job. */
  started: number;
}

/**
 * BullMQ's processor for the queue: what happens to each job a worker takes. In order: a job taken
 * while the engine is away goes back to wait, or fails once it has waited the bound; a job whose
 * tenant is at its running cap is parked; a job with a stored result is not run again; a cancelled
 * job is recorded as cancelled; every other job runs in a sandbox and its result is recorded.
 */
export class JobProcessor {
  private abandoning = false;

  constructor(private readonly ctx: JobProcessorContext) {}

  /** For BullMQ's Worker. Throws DelayedError for a job sent back to wait: no attempt spent. */
  async process(job: TakenJob, token: string | undefined, signal?: AbortSignal): Promise<JobOutcome> {
    const started = performance.now();
    const run = runStart(this.ctx.workerId, job);
    const verdict = this.ctx.engine.judge(job.data.submitted_at);
    if (verdict === 'wait') {
      // Back to wait, no attempt spent: another worker's engine may answer, or ours again.
      await job.moveToDelayed(Date.now() + DOCKER_RETRY_MS, token);
      throw new DelayedError();
    }
    // Its tenant at its cap on running jobs: parked until one of them ends, no attempt spent.
    if (!(await this.ctx.slots.enter(job, token))) throw new DelayedError();
    try {
      const taken = { job, jobId: job.id as string, token, run, started };
      if (verdict === 'fail') return await this.failForEngine(taken);
      return await this.runTaken(taken, signal);
    } finally {
      await this.ctx.slots.leave(job);
    }
  }

  /**
   * For BullMQ's 'failed' event, which comes for retried attempts too: only a job failed for good
   * has finishedOn, after its last attempt or after stalling too often (maxStalledCount), however
   * few attempts that took. Such a job gets an internal_error result.
   */
  failed(job: FailedJob | undefined, err: Error): void {
    if (!job?.finishedOn) return;
    const result = failedForGoodResult(job.id as string, job.data, job, err.message);
    this.ctx.recorder.record(result, job.data).catch(() => {});
    this.ctx.metrics.runs.inc({ status: 'internal_error' });
  }

  /** Shutdown gave up waiting: runs that end from now on leave their jobs to be retried, unrecorded. */
  abandon(): void {
    this.abandoning = true;
  }

  /** Taken off the queue: it no longer counts against the caps, and its round is being served. */
  private async leaveQueue({ job, jobId }: Taken): Promise<void> {
    const promote = await this.ctx.fair.started({
      id: jobId,
      tenantId: job.data.tenant_id ?? 'anonymous',
      lane: job.data.lane ?? 'batch',
      ...(job.data.round !== undefined ? { round: job.data.round } : {}),
    });
    // Not awaited: the job being started need not wait for another one's move.
    if (promote)
      this.ctx.promote(promote).then(
        (moved) => moved && this.ctx.metrics.batchPromotions.inc(),
        () => {},
      );
  }

  /** The engine stayed away past the wait this job is owed: it ends internal_error, unrun. */
  private async failForEngine(taken: Taken): Promise<JobOutcome> {
    const { ctx } = this;
    await this.leaveQueue(taken);
    const { job, jobId, run, token } = taken;
    const away = { waitMs: ctx.dockerWaitMs, workerId: ctx.workerId };
    await ctx.recorder.record(engineAwayResult(jobId, job.data, run, away), job.data, token);
    ctx.metrics.runs.inc({ status: 'internal_error' });
    return { status: 'internal_error' };
  }

  /** Runs the job unless a result is stored already or it was cancelled first. */
  private async runTaken(taken: Taken, signal?: AbortSignal): Promise<JobOutcome> {
    const { ctx } = this;
    const { job, jobId, run, token } = taken;
    await this.leaveQueue(taken);
    // A job retaken after its worker died may have finished already: never run it twice.
    const recorded = await ctx.recorder.alreadyRecorded(jobId);
    if (recorded) return recorded;
    const cancelled = ctx.cancels.track(jobId);
    ctx.sandboxes.jobStarted();
    try {
      // Tracked before the flag is read: a cancel between the two is then caught by the channel.
      if (await ctx.cancels.requested(jobId)) {
        await ctx.recorder.record(cancelledRunResult(jobId, job.data, run), job.data, token);
        return { status: 'cancelled' };
      }
      return await this.runInSandbox(taken, signal ? AbortSignal.any([signal, cancelled]) : cancelled);
    } finally {
      ctx.cancels.untrack(jobId);
      ctx.sandboxes.jobEnded();
    }
  }

  private async runInSandbox({ job, jobId, run, token, started }: Taken, signal: AbortSignal): Promise<JobOutcome> {
    const { ctx } = this;
    ctx.recorder.runStarted(jobId, run);
    const queuedSeconds = Math.max(0, Date.now() - Date.parse(job.data.submitted_at)) / 1000;
    ctx.metrics.queueWait.observe({ lane: job.data.lane ?? 'batch' }, queuedSeconds);
    const jobLog = ctx.log.child({ job: jobId, request: job.data.request_id });
    if (ctx.runtime !== 'runsc') jobLog.warn({ runtime: ctx.runtime }, 'running user code WITHOUT gVisor');
    const encoding = job.data.output_encoding;
    const live = ctx.live.start(jobId, { attempt: run.attempt, token, ...(encoding ? { encoding } : {}) });
    let result: RunResult;
    try {
      const { output, input } = live;
      result = await ctx.sandboxes.execute(jobId, job.data, {
        signal,
        queuedSeconds,
        output,
        ...(input ? { input } : {}),
      });
    } catch (err) {
      ctx.metrics.infraFailures.inc();
      jobLog.error({ err, attempt: runsBefore(job) + 1 }, 'sandbox failed');
      // Lost to an engine that is away: the retry waits for it rather than finding it gone too.
      if (!(await ctx.engine.check())) await ctx.engine.waitUntilUp(ctx.dockerWaitMs);
      throw err;
    } finally {
      // Before the result is recorded: its marker must come after the last of the output.
      live.end();
    }
    if (this.abandoning) throw new Error('worker shut down mid-run; the job will be retried');
    result = finishedResult(result, run);
    await ctx.recorder.record(result, job.data, token);
    ctx.metrics.runs.inc({ status: result.status });
    ctx.metrics.runDuration.observe({ status: result.status }, result.time);
    ctx.metrics.jobDuration.observe((performance.now() - started) / 1000);
    jobLog.info({ status: result.status, time: result.time, wall: result.wall_time }, 'job finished');
    return { status: result.status };
  }
}
