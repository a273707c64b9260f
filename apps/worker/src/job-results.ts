import { cancelledResult, internalErrorResult, type JobData, type RunResult } from '@sbx/shared';
import { type RunStart, withRun } from './result-store.js';

/** What the result building needs of a BullMQ job: how often it ran before. */
export interface RunCounts {
  /** Failed attempts, counted by BullMQ. */
  attemptsMade: number;
  /** Runs whose worker died (their lock lapsed), counted by BullMQ apart from attempts. */
  stalledCounter?: number;
}

/** Runs of this job before this one: failed attempts, and runs whose worker died. */
export const runsBefore = (job: RunCounts): number => job.attemptsMade + (job.stalledCounter ?? 0);

/** The evidence of the run starting now on `worker`. */
export function runStart(worker: string, job: RunCounts, now = new Date()): RunStart {
  return { worker, attempt: runsBefore(job) + 1, started_at: now.toISOString() };
}

/** A run's result as stored: with its attempt count and the evidence of the run that made it. */
export function finishedResult(result: RunResult, run: RunStart): RunResult {
  return withRun({ ...result, attempts: run.attempt }, run);
}

/** The result of a job cancelled before it ran. */
export function cancelledRunResult(jobId: string, data: JobData, run: RunStart): RunResult {
  return withRun(cancelledResult(jobId, data), run);
}

/** The result of a job failed, without running, for an engine that stayed away past the wait it is owed. */
export function engineAwayResult(
  jobId: string,
  data: JobData,
  run: RunStart,
  away: { waitMs: number; workerId: string },
): RunResult {
  const message = `no Docker engine answered within ${Math.round(away.waitMs / 1000)} s of the job being queued (worker ${away.workerId})`;
  return finishedResult(internalErrorResult(jobId, data, message), run);
}

/** The result of a job BullMQ failed for good (its last attempt failed, or it stalled too often). */
export function failedForGoodResult(jobId: string, data: JobData, job: RunCounts, reason: string): RunResult {
  return { ...internalErrorResult(jobId, data, reason), attempts: runsBefore(job) };
}
