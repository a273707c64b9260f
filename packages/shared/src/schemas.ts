import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { COMPARATORS, type Comparator } from './compare.js';
import { ENVIRONMENTS, type Environment } from './environments.js';
import { API_ERRORS, type ApiErrorCode } from './errors.js';
import { JOB_ID_PATTERN } from './job-id.js';
import { LANES, type Lane } from './lanes.js';
import { RUNTIME } from './runtime.js';
import {
  JOB_STATES,
  type JobState,
  POLICIES,
  type Policy,
  RUN_STATUSES,
  type RunStatus,
  TEST_VERDICTS,
  type TestVerdict,
} from './status.js';

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
  'Policy-layer profile (default strict, unless the server allows only laxer ones: see GET /info). The server may restrict which ones a caller can use.',
);

const LaneSchemaFor = (description: string) =>
  stringEnum<Lane>(
    LANES,
    `${description} Interactive work is taken before batch work; batch work is never starved. A tenant may be limited to some lanes.`,
  );
export const LaneSchema = LaneSchemaFor('A lane of the queue.');

export const OUTPUT_ENCODINGS = ['utf8', 'base64'] as const;
export type OutputEncoding = (typeof OUTPUT_ENCODINGS)[number];
const OutputEncodingSchema = stringEnum<OutputEncoding>(
  OUTPUT_ENCODINGS,
  'How stdout and stderr come back: utf8 text (default; bytes that are not UTF-8 become U+FFFD), or base64 of the exact bytes (images, binary formats). Answers are judged on the text either way.',
);

export const EnvironmentSchema = stringEnum<Environment>(
  ENVIRONMENTS,
  'Sandbox environment (default python; see GET /info for what this server serves). python-data preloads numpy, pandas and matplotlib.',
);

export const FIGURE_FORMATS = ['png', 'svg'] as const;
export type FigureFormat = (typeof FIGURE_FORMATS)[number];

/** Most command-line arguments a program may get, and the longest one, in characters. */
export const MAX_ARGS = 64;
export const MAX_ARG_CHARS = 4096;

/** sys.argv[1:] of the program, as Piston's `args` and Judge0's `command_line_arguments` give it. */
export const ArgsSchema = Type.Array(Type.String({ maxLength: MAX_ARG_CHARS }), {
  maxItems: MAX_ARGS,
  description: "Command-line arguments: the program's sys.argv[1:] (sys.argv[0] is main.py).",
});

/** Most files a job may carry besides its code, and the pattern of their names (one folder level: no "/"). */
export const MAX_FILES = 16;
export const FILE_NAME_PATTERN = '^(?!outputs$)[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$';
export const FILE_ENCODINGS = ['utf8', 'base64', 'hex'] as const;
export type FileEncoding = (typeof FILE_ENCODINGS)[number];

/** A file written beside the program (its working directory, /tmp) before it runs. */
export const JobFileSchema = Type.Object(
  {
    name: Type.String({
      pattern: FILE_NAME_PATTERN,
      description:
        'Its name in the working directory: letters, digits, ".", "_" and "-", at most 100 characters, not starting with "." or "-"; "outputs" is taken (the folder of files that come back).',
    }),
    content: Type.String({ description: 'Its content, as `encoding` says.' }),
    encoding: Type.Optional(
      stringEnum<FileEncoding>(FILE_ENCODINGS, 'How `content` is written: utf8 text (default), base64 or hex bytes.'),
    ),
  },
  { additionalProperties: false },
);
export type JobFile = Static<typeof JobFileSchema>;

export const TestCaseSchema = Type.Object(
  {
    stdin: Type.Optional(Type.String()),
    args: Type.Optional({ ...ArgsSchema, description: "This test's arguments, instead of the job's." }),
    expected_output: Type.String(),
    limits: Type.Optional(LimitsSchema),
  },
  { additionalProperties: false },
);
export type TestCase = Static<typeof TestCaseSchema>;

export const JobRequestSchema = Type.Object(
  {
    code: Type.String({
      minLength: 1,
      description: `Python ${RUNTIME.version} source. At most SBX_MAX_CODE_BYTES bytes as UTF-8 (413 above).`,
    }),
    stdin: Type.Optional(
      Type.String({ description: 'Standard input for the program. At most SBX_MAX_STDIN_BYTES bytes (413 above).' }),
    ),
    args: Type.Optional(ArgsSchema),
    limits: Type.Optional(LimitsSchema),
    files: Type.Optional(
      Type.Array(JobFileSchema, {
        maxItems: MAX_FILES,
        description:
          'Files written to the working directory beside the program before it runs, where it can open and import them (the standard policy: strict refuses reading them). Their bytes count with stdin against SBX_MAX_STDIN_BYTES.',
      }),
    ),
    policy: Type.Optional(PolicySchema),
    // Any name, checked against what the server serves: an unknown one is environment_not_available,
    // as one not enabled or not built is, rather than a schema error.
    environment: Type.Optional(
      Type.String({
        maxLength: 64,
        description: `${EnvironmentSchema.description} Known: ${ENVIRONMENTS.join(', ')}.`,
      }),
    ),
    figure_format: Type.Optional(
      stringEnum<FigureFormat>(
        FIGURE_FORMATS,
        'Format of the matplotlib figures that come back as artifacts (default png).',
      ),
    ),
    output_encoding: Type.Optional(OutputEncodingSchema),
    lane: Type.Optional(
      LaneSchemaFor('The lane to queue in (default: interactive for POST /run, batch for POST /jobs).'),
    ),
    tests: Type.Optional(
      Type.Array(TestCaseSchema, {
        minItems: 1,
        description: 'Run the program once per test, each in a fresh process, and judge stdout. At most SBX_MAX_TESTS.',
      }),
    ),
    comparator: Type.Optional(
      stringEnum<Comparator>(COMPARATORS, 'How stdout is compared (default trailing_whitespace).'),
    ),
    float_tolerance: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1,
        description: 'Relative tolerance for the float comparator (default 1e-6).',
      }),
    ),
    callback_url: Type.Optional(
      Type.String({
        maxLength: 2048,
        description:
          'http(s) URL that receives the result, signed per Standard Webhooks. Private and loopback targets are refused unless allowlisted.',
      }),
    ),
    stop_on_first_failure: Type.Optional(
      Type.Boolean({
        description:
          'Stop at the first test that is not accepted (a wrong answer included): later tests never run and are reported as skipped.',
      }),
    ),
    interactive: Type.Optional(
      Type.Boolean({
        description:
          "Keep the program's stdin open: send it input with POST /jobs/:id/stdin while it runs (`stdin` here is its first input). A single run only (400 with tests). limits.time_ms then bounds its CPU time; its wall clock and the time without new input have bounds of their own (GET /info, limits.interactive).",
      }),
    ),
  },
  { additionalProperties: false },
);
export type JobRequest = Static<typeof JobRequestSchema>;

/** POST /jobs/:id/stdin: more input for an interactive job, or its end. */
export const JobInputRequestSchema = Type.Object(
  {
    data: Type.Optional(
      Type.String({
        description:
          'Input to append, as text (UTF-8 on the way in; at most max_input_call_bytes of it, GET /info). Exactly one of data and eof.',
      }),
    ),
    eof: Type.Optional(Type.Literal(true, { description: "Close the program's stdin: a read then gets end of file." })),
    offset: Type.Integer({
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      description:
        "UTF-8 bytes of input the caller had sent before this call, after the body's stdin (0 on the first). A call repeating input already accepted appends nothing.",
    }),
  },
  { additionalProperties: false },
);
export type JobInputRequest = Static<typeof JobInputRequestSchema>;

export const JobInputAcceptedSchema = Type.Object({
  offset: Type.Integer({ description: "UTF-8 bytes of input accepted so far, after the body's stdin." }),
  eof: Type.Boolean({ description: 'Whether the input is closed.' }),
});
export type JobInputAccepted = Static<typeof JobInputAcceptedSchema>;

export const RunStatusSchema = stringEnum<RunStatus>(RUN_STATUSES);
export const JobStateSchema = stringEnum<JobState>(JOB_STATES);

export const TestResultSchema = Type.Object({
  index: Type.Integer(),
  status: Type.Union([RunStatusSchema, Type.Null()], { description: 'How the run ended; null when skipped.' }),
  verdict: stringEnum<TestVerdict>(TEST_VERDICTS),
  stdout: Type.String(),
  stderr: Type.String(),
  exit_code: Type.Union([Type.Integer(), Type.Null()]),
  signal: Type.Union([Type.Integer(), Type.Null()]),
  time: Type.Number(),
  cpu_time: Type.Union([Type.Number(), Type.Null()]),
  memory_kb: Type.Union([Type.Integer(), Type.Null()]),
  stdout_truncated: Type.Boolean(),
  stderr_truncated: Type.Boolean(),
  message: Type.Optional(Type.String()),
  limits: Type.Object({ time_ms: Type.Integer(), memory_mb: Type.Integer() }),
});
export type TestResult = Static<typeof TestResultSchema>;

export const StagesSchema = Type.Object(
  {
    queued: Type.Number({ description: 'From submission to a worker taking the job.' }),
    sandbox: Type.Number({ description: 'Acquiring a started sandbox (near zero when a warm one was ready).' }),
    warm: Type.Boolean({ description: 'Whether the sandbox came from the warm pool.' }),
    run: Type.Number({ description: 'From handing the job to the sandbox to its run being over.' }),
    judge: Type.Number({ description: 'Classifying the run and judging test answers.' }),
  },
  {
    description:
      'Where the job spent its time on the worker, in seconds. Storing the result and answering the ' +
      'caller come after these and are not in them.',
  },
);
export type Stages = Static<typeof StagesSchema>;

export const ArtifactSchema = Type.Object({
  name: Type.String({
    description: 'figure-1.png, figure-2.png, ... for figures; the path under /tmp/outputs for files.',
  }),
  mime: Type.String(),
  bytes: Type.Integer({ description: 'Size of the raw content.' }),
  data: Type.Optional(Type.String({ description: 'The content, base64. Webhooks leave it out: fetch url instead.' })),
  url: Type.String({ description: 'Path of GET /jobs/:id/artifacts/:name, which serves the raw bytes.' }),
});
export type Artifact = Static<typeof ArtifactSchema>;

export const RunEvidenceSchema = Type.Object(
  {
    worker: Type.String({ description: 'Id of the worker that ran it (SBX_WORKER_ID).' }),
    attempt: Type.Integer({
      minimum: 1,
      description: 'Which run of the job this was: 1 for the first, more after a run lost to a fault of ours.',
    }),
    started_at: Type.String({ format: 'date-time', description: 'When this worker took the job to run it.' }),
    finished_at: Type.String({ format: 'date-time', description: "When this run's result was ready to store." }),
  },
  {
    description:
      'The run whose result this is. A job may run twice when its worker was cut off from Redis or died ' +
      "(its lock lapsed and another worker took it); only the run that still held the job's lock stores its " +
      'result, and a stored result is never overwritten.',
  },
);
export type RunEvidence = Static<typeof RunEvidenceSchema>;

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
  environment: Type.Optional(EnvironmentSchema),
  output_encoding: Type.Optional({
    ...OutputEncodingSchema,
    description: 'Present when stdout and stderr are base64.',
  }),
  artifacts: Type.Optional(
    Type.Array(ArtifactSchema, {
      description:
        'Figures still open at the end and those plt.show() emitted (PNG, or SVG on request); in the standard profile also the files written under /tmp/outputs. Present when there are any.',
    }),
  ),
  tests: Type.Optional(Type.Array(TestResultSchema, { description: 'Per-test results, when the job had tests.' })),
  summary: Type.Optional(Type.Object({ passed: Type.Integer(), total: Type.Integer() })),
  wall_time: Type.Number({
    description: 'Seconds from the job reaching its sandbox to the sandbox reporting the run finished.',
  }),
  stages: Type.Optional(StagesSchema),
  attempts: Type.Optional(
    Type.Integer({
      minimum: 1,
      description:
        'Runs it took: more than 1 when a run was lost to a fault of ours (the engine restarted, a start failed, its worker died) and the job ran again.',
    }),
  ),
  run: Type.Optional(RunEvidenceSchema),
  submitted_at: Type.String({ format: 'date-time' }),
  finished_at: Type.String({ format: 'date-time' }),
});
export type RunResult = Static<typeof RunResultSchema>;

/** Where a waiting job stands: in POST /jobs's 202 and GET /jobs/:id while it is queued. */
const QueuePlaceSchema = {
  lane: Type.Optional(LaneSchema),
  position: Type.Optional(
    Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
      description:
        'Jobs that will start before this one as things stand, in either lane, fair shares included; null while it waits for a retry.',
    }),
  ),
  eta_seconds: Type.Optional(
    Type.Union([Type.Number({ minimum: 0 }), Type.Null()], {
      description:
        'Estimated seconds until it starts, from the recent throughput; null when there is too little to tell.',
    }),
  ),
};

export const JobAcceptedSchema = Type.Object({
  id: Type.String(),
  state: Type.Literal('queued'),
  events_url: Type.String({
    description:
      "The job's live events (GET /jobs/:id/events) with a token for this one job in the URL, for EventSource, which cannot send an Authorization header. Valid for an hour; treat it as a credential.",
  }),
  ...QueuePlaceSchema,
});

export type JobAccepted = Static<typeof JobAcceptedSchema>;

export const WebhookStateSchema = Type.Object({
  state: stringEnum<'pending' | 'delivered' | 'failed'>(['pending', 'delivered', 'failed']),
  attempts: Type.Integer(),
  last_status: Type.Union([Type.Integer(), Type.Null()]),
  last_error: Type.Union([Type.String(), Type.Null()]),
  last_attempt_at: Type.Union([Type.String(), Type.Null()]),
  delivered_at: Type.Union([Type.String(), Type.Null()]),
  webhook_id: Type.String(),
  url: Type.String(),
  redeliveries: Type.Integer(),
});

export const JobViewSchema = Type.Object({
  id: Type.String(),
  state: JobStateSchema,
  ...QueuePlaceSchema,
  result: Type.Optional(RunResultSchema),
  webhook: Type.Optional(WebhookStateSchema),
});
export type JobView = Static<typeof JobViewSchema>;

export const ErrorBodySchema = Type.Object({
  statusCode: Type.Integer(),
  code: stringEnum<ApiErrorCode>(
    Object.keys(API_ERRORS) as ApiErrorCode[],
    'Stable machine-readable error code; each always travels with the same HTTP status.',
  ),
  message: Type.String(),
  details: Type.Optional(Type.Unknown()),
});
export type ErrorBody = Static<typeof ErrorBodySchema>;

/**
 * A job id in a path. Any string up to 64 characters passes the schema: one not of the API's own shape
 * (job-id.ts) is an unknown job, 404 like any other, and the job service refuses it before Redis is
 * asked (a 404 rather than a 400: a malformed id tells a client nothing an unknown one does not).
 */
export const JobIdSchema = Type.String({
  maxLength: 64,
  description: `A job id, as POST /jobs returned it (${JOB_ID_PATTERN}); any other string is an unknown job.`,
});
export const JobIdParamsSchema = Type.Object({ id: JobIdSchema });

const Bound = (description: string) => Type.Integer({ description });

/** GET /info: what this server runs and the limits the calling tenant may ask for. */
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** The runtime a worker found at its self-check: what user code actually runs on. */
export const SandboxRuntimeSchema = Type.Object({
  runtime: Type.String({ description: 'Docker runtime name: runsc is gVisor.' }),
  release: Nullable(Type.String({ description: 'runsc release, as its date (20240729); null for another runtime.' })),
  platform: Nullable(Type.String({ description: 'gVisor platform (systrap); null for another runtime.' })),
  directfs: Nullable(Type.Boolean({ description: 'Whether the gVisor kernel opens host files itself.' })),
});
export type SandboxRuntime = Static<typeof SandboxRuntimeSchema>;

export const ServiceInfoSchema = Type.Object({
  runtime: Type.Object({ language: Type.Literal(RUNTIME.language), version: Type.String() }),
  sandbox: Type.Array(
    Type.Object({
      ...SandboxRuntimeSchema.properties,
      workers: Type.Integer({ description: 'Live workers running on it.' }),
    }),
    { description: 'What the live workers run user code on, one entry per distinct runtime; empty when none is live.' },
  ),
  limits: Type.Object({
    time_ms: Type.Object({ default: Bound('Used when a job asks for none.'), max: Bound('Largest accepted.') }),
    memory_mb: Type.Object({
      default: Bound('Used when a job asks for none.'),
      min: Bound('Smallest accepted.'),
      max: Bound('Largest accepted.'),
    }),
    code_bytes: Bound('Largest source, UTF-8 bytes (413 above).'),
    input_bytes: Bound('stdin, args and test data together, UTF-8 bytes (413 above).'),
    output_bytes: Bound('stdout and stderr kept before a run is stopped (output_limit).'),
    tests: Bound('Most test cases in one job.'),
    artifacts: Bound('Most artifacts one result carries (output_limit above).'),
    artifact_bytes: Bound('Raw bytes of all artifacts of one result together (output_limit above).'),
    args: Bound('Most command-line arguments.'),
    arg_chars: Bound('Longest command-line argument.'),
    queued: Bound('Jobs this caller may have waiting (429 tenant_queue_full above).'),
    queued_total: Bound('Jobs waiting in all, every caller together (503 queue_full above).'),
    running: Bound('Jobs this caller may have running at once, fleet-wide; 0: no cap.'),
    stored_bytes: Bound(
      'Bytes this caller may have stored within the result TTL: job bodies, results, artifacts (429 storage_quota above).',
    ),
    interactive: Type.Object(
      {
        wall_ms: Bound('Wall-clock bound of an interactive job (timeout past it).'),
        idle_input_ms: Bound('An interactive job without new input for this long, before its eof, ends (timeout).'),
        max_input_call_bytes: Bound('Largest data of one POST /jobs/:id/stdin, UTF-8 bytes (413 above).'),
        max_input_bytes: Bound(
          "Input one job may get through POST /jobs/:id/stdin, besides its body's stdin (413 above).",
        ),
      },
      { description: 'Interactive jobs ("interactive": true): their bounds and input caps.' },
    ),
  }),
  lanes: Type.Array(LaneSchema, { description: 'Lanes this caller may queue in, in the order they are served.' }),
  weight: Type.Integer({
    minimum: 1,
    description: "This caller's share against others with work queued in a lane: its jobs per round.",
  }),
  environments: Type.Array(
    Type.Object({
      name: EnvironmentSchema,
      description: Type.String(),
      default: Type.Boolean({ description: 'What a job that names no environment gets.' }),
      versions: Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()], {
        description: 'Python and library versions, as a live worker found them in the image; null while none has.',
      }),
      workers: Type.Integer({ description: 'Live workers that have this environment built.' }),
    }),
    { description: 'Environments this caller may ask for.' },
  ),
  policies: Type.Array(PolicySchema, { description: 'Profiles this caller may ask for.' }),
  default_policy: PolicySchema,
  comparators: Type.Array(stringEnum<Comparator>(COMPARATORS)),
});
export type ServiceInfo = Static<typeof ServiceInfoSchema>;
