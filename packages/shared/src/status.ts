/** Verdicts of a finished run, in the order the worker checks for them. */
export const RUN_STATUSES = [
  'ok',
  'runtime_error',
  'timeout',
  'memory_limit',
  'output_limit',
  'security_violation',
  'internal_error',
  'cancelled',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/**
 * Policy-layer profiles a job may ask for. `strict` refuses os, subprocess, socket, open, eval, exec and
 * their kin; `standard` allows the whole standard library and refuses only process creation, network and
 * writes outside /tmp. The container floor is the same for both.
 */
export const POLICIES = ['strict', 'standard'] as const;
export type Policy = (typeof POLICIES)[number];

/** Per-test verdicts: accepted, wrong_answer, the run status that failed the test, or skipped. */
export type TestVerdict = 'accepted' | 'wrong_answer' | Exclude<RunStatus, 'ok'> | 'skipped';
export const TEST_VERDICTS: readonly TestVerdict[] = [
  'accepted',
  'wrong_answer',
  ...RUN_STATUSES.filter((s): s is Exclude<RunStatus, 'ok'> => s !== 'ok'),
  'skipped',
];

/** Where a job is in its life, as `GET /jobs/:id` reports it. */
export const JOB_STATES = ['queued', 'running', 'completed'] as const;
export type JobState = (typeof JOB_STATES)[number];
