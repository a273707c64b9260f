import type { Comparator } from './compare.js';
import type { Environment } from './environments.js';
import { jobEventsKey } from './job-events.js';
import { jobInputKey, jobInputStateKey } from './job-input.js';
import type { Lane } from './lanes.js';
import type { RunResult } from './schemas.js';
import type { Policy } from './status.js';

/** What the API puts on the queue. Limits are resolved (defaults applied, maxima checked) before enqueueing. */
export interface JobData {
  code: string;
  stdin: string;
  /** sys.argv[1:]; absent when none were given. */
  args?: string[];
  /** Files written beside the program before it runs: names checked, content as base64 of its bytes. */
  files?: { name: string; data: string }[];
  /** Set only when output comes back as base64. */
  output_encoding?: 'base64';
  limits: { time_ms: number; memory_mb: number };
  policy: Policy;
  /** Absent on jobs queued before environments existed: python. */
  environment?: Environment;
  /** Set only when figures come back as SVG. */
  figure_format?: 'svg';
  /**
   * An interactive job (a single run): its stdin stays open for POST /jobs/:id/stdin (job-input.ts),
   * with these bounds, resolved when it was queued. `limits.time_ms` then bounds its CPU time.
   */
  interactive?: { wall_ms: number; idle_ms: number };
  /** Test cases with limits resolved, and args (the test's own, else the job's); absent for a plain run. */
  tests?: {
    stdin: string;
    args?: string[];
    expected_output: string;
    limits: { time_ms: number; memory_mb: number };
  }[];
  comparator?: Comparator;
  float_tolerance?: number;
  stop_on_first_failure?: boolean;
  /**
   * A Judge0 submission (apps/api/src/compat/judge0): its callback is Judge0's PUT of the submission,
   * whose status needs these two of its fields.
   */
  judge0?: { expected_output: string | null; redirect_stderr_to_stdout: boolean };
  /** Where the result is POSTed, signed, when the job finishes. */
  callback_url?: string;
  /** The tenant that submitted it; other tenants get 404 for it. */
  tenant_id?: string;
  /** Its lane and fair-share round (fair-queue.ts); absent on jobs queued before lanes existed. */
  lane?: Lane;
  round?: number;
  /** Its tenant's cap on running jobs when accepted (running-cap.ts); absent: no cap. */
  max_running?: number;
  submitted_at: string;
  request_id: string;
}

/**
 * A job as BullMQ keeps it once its result is stored (ResultStore cuts the copy down to this): all but
 * the program and its input, which only the queued job and the stored result may hold. What is left is
 * all any reader of a finished job needs: a failed job's internal_error result and webhook (limits,
 * policy, environment, submitted_at, callback_url, tenant_id) and a retaken run that finds its result
 * stored (tenant_id, lane, round, max_running).
 */
export type JobReceipt = Omit<JobData, 'code' | 'stdin' | 'args' | 'tests' | 'files'>;

export function jobReceipt(data: JobData): JobReceipt {
  const { code, stdin, args, tests, files, ...receipt } = data;
  return receipt;
}

/** Keys outside BullMQ's own, so results outlive BullMQ's bounded job retention. */
export const redisKeys = (prefix: string) => ({
  result: (jobId: string) => `${prefix}:result:${jobId}`,
  workers: `${prefix}:workers`,
  idempotency: (keyHash: string) => `${prefix}:idem:${keyHash}`,
  /** Tenant that owns a job id, kept as long as its result. */
  owner: (jobId: string) => `${prefix}:owner:${jobId}`,
  /** Set when a job is cancelled, so a worker that picks it up late does not run it. */
  cancelFlag: (jobId: string) => `${prefix}:cancel:${jobId}`,
  /**
   * List of RunRecord JSON: every run of a job, started and finished, capped and kept as long as its
   * result. Not `runs:`: that is BullMQ's own job hash under the default queue name.
   */
  runs: (jobId: string) => `${prefix}:runlog:${jobId}`,
  /** Pub/sub channel: a job id to stop, for whichever worker runs it. */
  cancelChannel: `${prefix}:cancel`,
  /** Hash: worker id → JSON of its start-up self-check. */
  workerHealth: `${prefix}:worker-health`,
  /** The secret `events_url` tokens are signed with, written once by the first API replica. */
  eventsTokenSecret: `${prefix}:events-token-secret`,
  /** Stream of a job's live events (job-events.ts). */
  events: (jobId: string) => jobEventsKey(prefix, jobId),
  /** Stream of an interactive job's input, and the hash of how much of it was accepted (job-input.ts). */
  input: (jobId: string) => jobInputKey(prefix, jobId),
  inputState: (jobId: string) => jobInputStateKey(prefix, jobId),
  /** What a Judge0 client sent for a submission (compat/judge0), kept as long as its result. */
  judge0: (token: string) => `${prefix}:judge0:${token}`,
});

/**
 * What happened to a finished run's result: `stored`; `superseded` (another run's result was already
 * there: results are never overwritten); `lock_lost` (the run no longer held the job's BullMQ lock, so
 * the job belongs to another run, or will be retaken, and this result is dropped).
 */
export type StoreOutcome = 'stored' | 'superseded' | 'lock_lost';

/**
 * One line of a job's run log (`redisKeys().runs`): each run says when it started and, if its worker
 * lived to tell, how it finished and whether its result is the stored one. Operators and the fleet
 * test read it to prove a job that ran twice kept exactly one run's result.
 */
export type RunRecord =
  | { event: 'started'; worker: string; attempt: number; started_at: string }
  | {
      event: 'finished';
      worker: string;
      attempt: number;
      started_at: string;
      finished_at: string;
      status: RunResult['status'];
      outcome: StoreOutcome;
    };

/** The result recorded for a job cancelled before or while it ran. */
export function cancelledResult(id: string, data: JobReceipt): RunResult {
  return { ...internalErrorResult(id, data, ''), status: 'cancelled', message: 'cancelled by request' };
}

/** The output fields of a program that never ran: shared by never-run jobs and skipped tests. */
export const NOTHING_RAN = {
  stdout: '',
  stderr: '',
  exit_code: null,
  signal: null,
  time: 0,
  cpu_time: null,
  memory_kb: null,
  stdout_truncated: false,
  stderr_truncated: false,
} as const;

/** The result recorded when a job could not be run at all (sandbox would not start, worker died repeatedly). */
export function internalErrorResult(id: string, data: JobReceipt, message: string): RunResult {
  const now = new Date().toISOString();
  return {
    id,
    status: 'internal_error',
    ...NOTHING_RAN,
    message: `the job could not be run: ${message}`,
    limits: data.limits,
    policy: data.policy,
    ...(data.environment ? { environment: data.environment } : {}),
    wall_time: 0,
    submitted_at: data.submitted_at,
    finished_at: now,
  };
}
