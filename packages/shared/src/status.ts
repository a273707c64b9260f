/** Verdicts of a finished run, in the order the worker checks for them. */
export const RUN_STATUSES = [
  'ok',
  'runtime_error',
  'timeout',
  'memory_limit',
  'output_limit',
  'security_violation',
  'internal_error',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Where a job is in its life, as `GET /jobs/:id` reports it. */
export const JOB_STATES = ['queued', 'running', 'completed'] as const;
export type JobState = (typeof JOB_STATES)[number];
