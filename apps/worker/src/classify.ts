import { type RunStatus, signalName } from '@sbx/shared';
import type { HarnessReport } from './sandbox/harness-report.js';
import type { RawRun } from './sandbox/types.js';
import { WIRE } from './sandbox/wire.js';

export interface Verdict {
  status: RunStatus;
  message?: string;
  /** Signal that ended the program, when one did. */
  signal: number | null;
}

export interface VerdictInput {
  run: Pick<RawRun, 'killedBy' | 'oomKilled' | 'exitCode'>;
  report: HarnessReport | null;
  /** User stdout+stderr bytes seen, the report excluded. */
  outputBytes: number;
  outputCap: number;
  limits: { time_ms: number; memory_mb: number };
  /** An interactive job's bounds (JobData.interactive): its wall clock and the time without input. */
  interactive?: { wall_ms: number; idle_ms: number } | undefined;
}

/** Exit code the supervisor uses when it could not read its job frame. */
export const HARNESS_FRAME_ERROR_EXIT = WIRE.exitCodes.frameError;

/**
 * Why a run says nothing about the user's code, or null when it does and `classify` judges it.
 * Such a run is retried on a fresh sandbox, and ends `internal_error` naming the cause after the
 * configured attempts. The cases are rows 1-6 of the verdicts table (docs/verdicts.md: the
 * one statement of the rules; test/unit/classify.test.ts tests each row). A run the worker stopped
 * itself (`killedBy`), one the harness finished (`completed`), one with kernel OOM evidence
 * (`oomKilled`) and exit 70 without a report (the harness refused its frame) are judged instead.
 *
 * The program cannot end a sandbox without a marker itself: it runs as its own uid with no
 * capability, so it can neither signal nor ptrace its supervisor, PID 1 (container-spec.ts,
 * DEFAULT_SANDBOX_USER). Anything it does to itself ends in the supervisor's report.
 */
export function lostBecause(
  run: Pick<RawRun, 'killedBy' | 'oomKilled' | 'exitCode' | 'completed' | 'streamCut' | 'engineKilled'> &
    Partial<Pick<RawRun, 'protocolFault'>>,
): string | null {
  if (run.protocolFault && run.killedBy !== 'abort')
    return `the sandbox harness broke its wire protocol: ${run.protocolFault}`;
  if (run.killedBy !== null || run.completed || run.oomKilled) return null;
  if (run.exitCode === HARNESS_FRAME_ERROR_EXIT) return null;
  if (run.streamCut) return "the sandbox's output stream was cut while it ran (the Docker engine restarted?)";
  if (run.exitCode === null) return "the sandbox's exit status was lost (the Docker engine did not answer)";
  if (run.exitCode > 128) {
    const signal = `signal ${run.exitCode - 128}, ${signalName(run.exitCode - 128) ?? 'unknown'}`;
    return run.engineKilled
      ? `the Docker engine stopped the sandbox (${signal}): it shut down or restarted, or an operator stopped the container`
      : `the sandbox was killed from outside the engine (${signal}): its runsc processes on the host were killed`;
  }
  return `the sandbox's harness ended without finishing the run (exit code ${run.exitCode})`;
}

/**
 * Judges a finished run, from evidence only: the worker's own observations first (its deadline, its
 * output count, the kernel's OOM kills), the harness report (which user code could forge, to its own
 * detriment only) after. Rows 7-18 of the verdicts table (docs/verdicts.md) are this function, in order, and
 * test/unit/classify.test.ts has a test per row. Never judged: the program's peak memory
 * (`max_rss_kb`, reported as `memory_kb`) and whether it ended through its own exit path
 * (`ended_itself`). A program that peaked over its limit and freed the memory has not been refused
 * anything: how it then ends (exit 1, a SIGKILL it sent itself, os._exit(0)) is what it did.
 */
export function classify({ run, report, outputBytes, outputCap, limits, interactive }: VerdictInput): Verdict {
  // A cancel kills the container: whatever it looked like then, the caller asked for it to stop.
  if (run.killedBy === 'abort') return { status: 'cancelled', signal: null, message: 'cancelled by request' };
  // The worker's own kill at the output cap came first: a report of the harness's time limit can still
  // arrive while that kill lands (Docker takes a second or more to kill a busy sandbox).
  if (run.killedBy === 'deadline' || (report?.timed_out && run.killedBy !== 'output_cap'))
    return timedOut(report, limits.time_ms, interactive);
  const memory = memoryVerdict(run, report, limits.memory_mb);
  if (memory) return memory;
  if (run.killedBy === 'output_cap' || outputBytes > outputCap) return outputLimit(run, outputCap);
  if (report?.violation) {
    const where = report.violation.line === null ? '' : ` (line ${report.violation.line})`;
    return { status: 'security_violation', signal: null, message: `${report.violation.message}${where}` };
  }
  if (!report && run.exitCode === HARNESS_FRAME_ERROR_EXIT)
    return { status: 'internal_error', signal: null, message: 'the sandbox harness rejected its job frame' };
  return programEnd(run, report);
}

/**
 * Which limit ended it: the time limit (the wall clock, or CPU time by the backstop, or for an
 * interactive job as the harness reads it), or an interactive job's wall-clock or idle-input bound.
 * The worker's own deadline on an interactive job is its wall-clock bound plus grace.
 */
function timedOut(report: HarnessReport | null, timeMs: number, interactive: VerdictInput['interactive']): Verdict {
  const bound = report?.timed_out ? report.bound : interactive ? 'wall' : undefined;
  let message = `time limit of ${timeMs} ms exceeded`;
  if (report?.cpu_limit) message = `${message}: the program's threads used ${report.cpu_time.toFixed(1)} s of CPU`;
  else if (interactive && bound === 'wall')
    message = `wall-clock limit of ${interactive.wall_ms} ms for an interactive job exceeded`;
  else if (interactive && bound === 'idle')
    message = `no input for ${interactive.idle_ms} ms: the idle-input limit of an interactive job`;
  return { status: 'timeout', signal: null, message };
}

/**
 * The two kinds of evidence that a limit, not the program, ended it: the kernel OOM-killed in the
 * sandbox (`oomKilled`: the cgroup's oom_kill counter rose, or Docker's OOMKilled or `oom` event; under
 * systrap the kill may take only the program, which gVisor then ends with exit status 1), or the limit
 * refused the program's own allocation and it did not catch the error (the report's `memory_error`:
 * an uncaught MemoryError, or an uncaught OSError ENOMEM such as an mmap past RLIMIT_AS).
 */
function memoryVerdict(run: VerdictInput['run'], report: HarnessReport | null, memoryMb: number): Verdict | null {
  const limit = `memory limit of ${memoryMb} MB exceeded`;
  if (run.oomKilled)
    return {
      status: 'memory_limit',
      signal: null,
      message: `${limit}: the sandbox ran out of memory and the kernel's OOM killer ended the program`,
    };
  if (report?.memory_error)
    return {
      status: 'memory_limit',
      signal: null,
      message: `${limit}: an allocation was refused (MemoryError or ENOMEM) and the program did not catch it`,
    };
  return null;
}

function outputLimit(run: VerdictInput['run'], outputCap: number): Verdict {
  const what = `output exceeded the limit of ${outputCap} bytes (stdout and stderr together)`;
  const message =
    run.killedBy === 'output_cap' ? `${what}: the run was stopped` : `${what}: what came after it was dropped`;
  return { status: 'output_limit', signal: null, message };
}

/** How the program ended by itself, as it did: its signal (the report's, or 128+n without one), its exit code. */
function programEnd(run: VerdictInput['run'], report: HarnessReport | null): Verdict {
  const exit = report?.exit_code ?? run.exitCode;
  if (exit === null) return { status: 'internal_error', signal: null, message: 'the sandbox exit code was lost' };
  const signal = report ? report.signal : exit > 128 ? exit - 128 : null;
  if (signal !== null)
    return {
      status: 'runtime_error',
      signal,
      message: `killed by signal ${signal} (${signalName(signal) ?? 'unknown'})`,
    };
  if (exit !== 0) return { status: 'runtime_error', signal: null, message: `exited with code ${exit}` };
  return { status: 'ok', signal: null };
}
