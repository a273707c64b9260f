import {
  type Artifact,
  artifactUrl,
  type Environment,
  type JobData,
  type OutputEncoding,
  type RunResult,
  type Stages,
} from '@sbx/shared';
import { classify, lostBecause } from './classify.js';
import type { OutputSink } from './live/live-output.js';
import { SandboxLostError } from './sandbox/docker-runner.js';
import { MAX_ARTIFACT_NAME } from './sandbox/harness-report.js';
import type { TestSlice } from './sandbox/harness-stream.js';
import type { InputSource, RawRun, RunInput, SandboxRunner } from './sandbox/types.js';
import { finishedTestPassed, judgeTests } from './test-cases.js';

export interface ExecuteOptions {
  runner: SandboxRunner;
  outputCap: number;
  /** `off` runs without the in-sandbox policy layer (the operator's test-only switch). */
  policyLayer?: 'on' | 'off';
  signal?: AbortSignal;
  /** Told how long acquiring the sandbox took, in seconds. */
  onAcquired?: (seconds: number) => void;
  /**
   * Handed the sandbox's disposal so the result need not wait for the container's removal; the
   * caller must run it, and settle it before shutting down. Without it, the disposal is awaited.
   */
  onDisposal?: (dispose: () => Promise<void>) => void;
  /** Seconds the job waited in the queue, for the result's stages. */
  queuedSeconds?: number;
  /** Caps on a single run's artifacts (SBX_MAX_ARTIFACTS, SBX_MAX_ARTIFACT_BYTES); none collected without. */
  artifacts?: { maxCount: number; maxBytes: number };
  /** Where the program's output goes as it arrives, for the job's viewers. */
  output?: OutputSink;
  /** An interactive job's input as it arrives (absent: it gets its body's stdin, then eof). */
  input?: InputSource;
}

/** Acquires a sandbox, runs one submission in it, disposes of it, and judges the run. */
export async function executeJob(jobId: string, data: JobData, opts: ExecuteOptions): Promise<RunResult> {
  const acquireStarted = performance.now();
  // One container for all tests: it needs the largest memory any of them asks for.
  const memory_mb = Math.max(data.limits.memory_mb, ...(data.tests ?? []).map((t) => t.limits.memory_mb));
  const environment = data.environment ?? 'python';
  const sandbox = await opts.runner.acquire(
    { ...data.limits, memory_mb, environment },
    { jobId, urgent: data.lane === 'interactive' },
  );
  const acquired = performance.now();
  opts.onAcquired?.((acquired - acquireStarted) / 1000);
  let ran = acquired;
  const stages = (): Stages => ({
    queued: round(opts.queuedSeconds ?? 0),
    sandbox: round((acquired - acquireStarted) / 1000),
    warm: sandbox.warm,
    run: round((ran - acquired) / 1000),
    judge: round((performance.now() - ran) / 1000),
  });
  try {
    const raw = await sandbox.run(runInput(data, opts), opts.signal);
    ran = performance.now();
    const lost = lostBecause(raw);
    if (lost) throw new SandboxLostError(lost);
    const judging: Judging = { jobId, data, environment, raw, opts, stages };
    return data.tests ? testsResult(judging, data.tests) : singleRunResult(judging);
  } finally {
    if (opts.onDisposal) opts.onDisposal(() => sandbox.dispose());
    else await sandbox.dispose();
  }
}

/** What the sandbox is asked to run for the job. */
function runInput(data: JobData, opts: ExecuteOptions): RunInput {
  const policy = opts.policyLayer === 'off' ? 'off' : data.policy;
  const tests = data.tests;
  return {
    code: data.code,
    stdin: data.stdin,
    ...(data.args ? { args: data.args } : {}),
    ...(data.files ? { files: data.files } : {}),
    // A pooled sandbox carries the pool's limits: the clock must be this job's.
    timeMs: data.limits.time_ms,
    policy,
    ...(opts.output ? { output: opts.output } : {}),
    ...(data.interactive && !tests
      ? {
          interactive: {
            wallMs: data.interactive.wall_ms,
            idleMs: data.interactive.idle_ms,
            input: opts.input ?? NO_INPUT,
          },
        }
      : {}),
    // Test-case jobs collect none: their tests are judged on stdout (docs/api.md, What a job may carry).
    ...(!tests && opts.artifacts && opts.artifacts.maxCount > 0
      ? { artifacts: { format: data.figure_format ?? 'png', ...opts.artifacts } }
      : {}),
    ...(tests
      ? {
          tests: tests.map((t) => ({ stdin: t.stdin, ...(t.args ? { args: t.args } : {}), ...t.limits })),
          ...(data.stop_on_first_failure
            ? {
                continueAfter: (index: number, slice: TestSlice) =>
                  finishedTestPassed({ ...data, tests }, index, slice, opts.outputCap),
              }
            : {}),
        }
      : {}),
  };
}

/** Input for a job whose input nobody follows: none, and its end at once. */
const NO_INPUT: InputSource = {
  follow(to) {
    to.eof();
    return () => {};
  },
};

/** A finished run, and what judging it needs. */
interface Judging {
  jobId: string;
  data: JobData;
  environment: Environment;
  raw: RawRun;
  opts: ExecuteOptions;
  /** The job's stages so far: called last, so the judge stage counts the judging. */
  stages: () => Stages;
}

/** The result of a test-case job: each test judged on its own slice of the run. */
function testsResult(
  { jobId, data, environment, raw, opts, stages }: Judging,
  tests: NonNullable<JobData['tests']>,
): RunResult {
  const judged = judgeTests({ ...data, tests }, raw, opts.outputCap);
  return {
    id: jobId,
    status: judged.status,
    stdout: '',
    stderr: '',
    exit_code: null,
    signal: null,
    time: round(judged.tests.reduce((sum, t) => sum + t.time, 0)),
    cpu_time: null,
    memory_kb: judged.tests.reduce<number | null>((m, t) => Math.max(m ?? 0, t.memory_kb ?? 0), null),
    stdout_truncated: false,
    stderr_truncated: false,
    ...(judged.status !== 'ok' ? { message: 'see tests for what failed' } : {}),
    limits: data.limits,
    policy: data.policy,
    environment,
    ...(data.output_encoding ? { output_encoding: data.output_encoding } : {}),
    tests: judged.tests,
    summary: { passed: judged.passed, total: tests.length },
    wall_time: round(raw.wallTime),
    stages: stages(),
    submitted_at: data.submitted_at,
    finished_at: new Date().toISOString(),
  };
}

/** The result of a single run: its verdict, its output within the cap, its artifacts. */
function singleRunResult({ jobId, data, environment, raw, opts, stages }: Judging): RunResult {
  const { stderr: userStderr, report } = raw;
  const outputBytes = raw.stdout.length + userStderr.length;
  const verdict = classify({
    run: raw,
    report,
    outputBytes: raw.outputOverflow ? Number.POSITIVE_INFINITY : outputBytes,
    outputCap: opts.outputCap,
    limits: data.limits,
    interactive: data.interactive,
  });
  const { stdout, stderr, stdoutTruncated, stderrTruncated } = fitOutput(
    raw.stdout,
    userStderr,
    opts.outputCap,
    data.output_encoding,
  );
  const time = report ? Math.min(report.time, raw.wallTime) : raw.wallTime;
  const artifacts = artifactsOf(jobId, raw);
  // Past a cap, what fit is kept; a run that was otherwise fine says its output was cut.
  const dropped = raw.artifactsDropped;
  if (dropped.count > 0 && verdict.status === 'ok') {
    verdict.status = 'output_limit';
    verdict.message = `${dropped.count} ${dropped.count === 1 ? 'artifact' : 'artifacts'} dropped past the limits (at most ${opts.artifacts?.maxCount} artifacts, ${opts.artifacts?.maxBytes} bytes together): ${dropped.names.join(', ')}`;
  }
  // Left out for its name alone: the run stays as it was judged, and says so.
  const skipped = raw.artifactsSkipped;
  if (skipped.count > 0 && verdict.status === 'ok')
    verdict.message = `${skipped.count} output ${skipped.count === 1 ? 'file' : 'files'} left out: a name must be a relative path of printable characters, at most ${MAX_ARTIFACT_NAME} long: ${skipped.names.join(', ')}`;
  return {
    id: jobId,
    status: verdict.status,
    stdout,
    stderr,
    exit_code: report?.exit_code ?? raw.exitCode,
    signal: verdict.signal,
    time: round(time),
    cpu_time: report ? round(report.cpu_time) : null,
    memory_kb: report ? report.max_rss_kb : null,
    stdout_truncated: stdoutTruncated,
    stderr_truncated: stderrTruncated,
    ...(verdict.message ? { message: verdict.message } : {}),
    limits: data.limits,
    policy: data.policy,
    environment,
    ...(data.output_encoding ? { output_encoding: data.output_encoding } : {}),
    ...(artifacts.length ? { artifacts } : {}),
    wall_time: round(raw.wallTime),
    stages: stages(),
    submitted_at: data.submitted_at,
    finished_at: new Date().toISOString(),
  };
}

/** The run's artifacts as a result carries them: content in base64, and where GET serves it raw. */
function artifactsOf(jobId: string, raw: Pick<RawRun, 'artifacts'>): Artifact[] {
  return raw.artifacts.map((a) => ({
    name: a.name,
    mime: a.mime,
    bytes: a.data.length,
    data: a.data.toString('base64'),
    url: artifactUrl(jobId, a.name),
  }));
}

/** Keeps at most `cap` bytes of output, stdout first, as text or as base64 of the exact bytes. */
export function fitOutput(stdout: Buffer, stderr: Buffer, cap: number, encoding: OutputEncoding = 'utf8') {
  const out = stdout.subarray(0, cap);
  const err = stderr.subarray(0, Math.max(0, cap - out.length));
  return {
    stdout: out.toString(encoding),
    stderr: err.toString(encoding),
    stdoutTruncated: out.length < stdout.length,
    stderrTruncated: err.length < stderr.length,
  };
}

const round = (seconds: number) => Math.round(seconds * 1e6) / 1e6;
