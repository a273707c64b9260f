import { type Static, Type } from '@sinclair/typebox';
import { JOB_STATES, type JobState, POLICIES, type Policy, RUN_STATUSES, type RunStatus } from './status.js';

/** A plain `{ type: string, enum }` in the OpenAPI document, typed as the union. */
const stringEnum = <T extends string>(values: readonly T[], description?: string) =>
  Type.Unsafe<T>({ type: 'string', enum: [...values], ...(description ? { description } : {}) });

export const LimitsSchema = Type.Object(
  {
    time_ms: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Wall-clock limit for the user code, in milliseconds.' }),
    ),
    memory_mb: Type.Optional(Type.Integer({ minimum: 1, description: 'Memory limit for the whole sandbox, in MiB.' })),
  },
  { additionalProperties: false },
);
export type Limits = Static<typeof LimitsSchema>;

export const PolicySchema = stringEnum<Policy>(
  POLICIES,
  'Policy-layer profile (default strict). The server may restrict which ones a caller can use.',
);

export const JobRequestSchema = Type.Object(
  {
    code: Type.String({
      minLength: 1,
      description: 'Python 3.11 source. At most SBX_MAX_CODE_BYTES bytes as UTF-8 (413 above).',
    }),
    stdin: Type.Optional(
      Type.String({ description: 'Standard input for the program. At most SBX_MAX_STDIN_BYTES bytes (413 above).' }),
    ),
    limits: Type.Optional(LimitsSchema),
    policy: Type.Optional(PolicySchema),
  },
  { additionalProperties: false },
);
export type JobRequest = Static<typeof JobRequestSchema>;

export const RunStatusSchema = stringEnum<RunStatus>(RUN_STATUSES);
export const JobStateSchema = stringEnum<JobState>(JOB_STATES);

export const RunResultSchema = Type.Object({
  id: Type.String(),
  status: RunStatusSchema,
  stdout: Type.String(),
  stderr: Type.String(),
  exit_code: Type.Union([Type.Integer(), Type.Null()], {
    description: 'Exit code of the program; 128+n when killed by signal n; null when it never ran.',
  }),
  signal: Type.Union([Type.Integer(), Type.Null()]),
  time: Type.Number({ description: 'Wall time of the user code, in seconds.' }),
  cpu_time: Type.Union([Type.Number(), Type.Null()], { description: 'CPU seconds of the user code.' }),
  memory_kb: Type.Union([Type.Integer(), Type.Null()], { description: 'Peak resident memory of the user code.' }),
  stdout_truncated: Type.Boolean(),
  stderr_truncated: Type.Boolean(),
  message: Type.Optional(Type.String({ description: 'Why the run ended this way, for non-ok statuses.' })),
  limits: Type.Object({ time_ms: Type.Integer(), memory_mb: Type.Integer() }),
  policy: PolicySchema,
  wall_time: Type.Number({ description: 'Seconds from sandbox start to sandbox exit.' }),
  submitted_at: Type.String({ format: 'date-time' }),
  finished_at: Type.String({ format: 'date-time' }),
});
export type RunResult = Static<typeof RunResultSchema>;

export const JobAcceptedSchema = Type.Object({
  id: Type.String(),
  state: Type.Literal('queued'),
});

export const JobViewSchema = Type.Object({
  id: Type.String(),
  state: JobStateSchema,
  result: Type.Optional(RunResultSchema),
});
export type JobView = Static<typeof JobViewSchema>;

export const ErrorBodySchema = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String({ description: 'Stable machine-readable error code.' }),
  message: Type.String(),
  details: Type.Optional(Type.Unknown()),
});
export type ErrorBody = Static<typeof ErrorBodySchema>;

export const JobIdParamsSchema = Type.Object({ id: Type.String({ maxLength: 64 }) });
