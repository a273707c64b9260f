import type { RunStatus } from '@sbx/shared';
import type { HarnessReport } from './sandbox/harness-report.js';
import type { RawRun } from './sandbox/types.js';

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
}

const SIGNAL_NAMES: Record<number, string> = {
  1: 'SIGHUP',
  2: 'SIGINT',
  4: 'SIGILL',
  6: 'SIGABRT',
  7: 'SIGBUS',
  8: 'SIGFPE',
  9: 'SIGKILL',
  11: 'SIGSEGV',
  13: 'SIGPIPE',
  14: 'SIGALRM',
  15: 'SIGTERM',
  24: 'SIGXCPU',
  25: 'SIGXFSZ',
  31: 'SIGSYS',
};

/** Exit code the supervisor uses when it could not read its job frame. */
export const HARNESS_FRAME_ERROR_EXIT = 70;

/**
 * Why a run says nothing about the user's code, or null when it does and `classify` judges it.
 * Such a run is retried on a fresh sandbox, and ends `internal_error` naming the cause after the
 * configured attempts. How each case is told apart (the README's verdicts section has this table):
 *
 * | what the worker saw                                               | who ended the run            | result              |
 * | ----------------------------------------------------------------- | ---------------------------- | ------------------- |
 * | its own deadline, output cap or cancel (`killedBy`)               | the worker                   | classify            |
 * | the done marker on both streams (`completed`)                     | the harness, after reporting | classify            |
 * | `OOMKilled`, or Docker's `oom` event for the container            | the kernel, for the memory   | classify (memory)   |
 * | exit 70 without a marker                                          | the harness refused a frame  | classify (internal) |
 * | the attach stream ended while the container lived on              | the engine (a restart)       | lost: retried       |
 * | no exit status (the engine did not answer)                        | the engine                   | lost: retried       |
 * | a signal exit without a marker, with the engine's `kill` event    | the engine: its shutdown, an | lost: retried       |
 * | not ours, or the engine gone right after (`engineKilled`)         | operator's stop or kill      |                     |
 * | a signal exit without a marker and no such evidence               | runsc killed on the host     | lost: retried       |
 * | any other exit without a marker                                   | the harness died             | lost: retried       |
 *
 * The program cannot end a sandbox without a marker itself: it runs as its own uid with no
 * capability, so it can neither signal nor ptrace its supervisor, PID 1 (container-spec.ts,
 * DEFAULT_SANDBOX_USER). Anything it does to itself ends in the supervisor's report.
 */
export function lostBecause(
  run: Pick<RawRun, 'killedBy' | 'oomKilled' | 'exitCode' | 'completed' | 'streamCut' | 'engineKilled'> &
    Partial<Pick<RawRun, 'protocolFault'>>,
): string | null {
  if (run.protocolFault && run.killedBy !== 'abort') return `the sandbox harness broke its wire protocol: ${run.protocolFault}`;
  if (run.killedBy !== null || run.completed || run.oomKilled) return null;
  if (run.exitCode === HARNESS_FRAME_ERROR_EXIT) return null;
  if (run.streamCut) return "the sandbox's output stream was cut while it ran (the Docker engine restarted?)";
  if (run.exitCode === null) return "the sandbox's exit status was lost (the Docker engine did not answer)";
  if (run.exitCode > 128) {
    const signal = `signal ${run.exitCode - 128}, ${SIGNAL_NAMES[run.exitCode - 128] ?? 'unknown'}`;
    return run.engineKilled
      ? `the Docker engine stopped the sandbox (${signal}): it shut down or restarted, or an operator stopped the container`
      : `the sandbox was killed from outside the engine (${signal}): its runsc processes on the host were killed`;
  }
  return `the sandbox's harness ended without finishing the run (exit code ${run.exitCode})`;
}

/**
 * Judges a finished run. The order is fixed (../shared/reference/sandbox.md):
 * the worker's own observations come first, the harness report (which user
 * code could forge, to its own detriment only) after.
 */
export function classify({ run, report, outputBytes, outputCap, limits }: VerdictInput): Verdict {
  // A cancel kills the container: whatever it looked like then, the caller asked for it to stop.
  if (run.killedBy === 'abort') return { status: 'cancelled', signal: null, message: 'cancelled by request' };
  const exit = report?.exit_code ?? run.exitCode;
  const signal = report ? report.signal : exit !== null && exit > 128 ? exit - 128 : null;

  if (run.killedBy === 'deadline' || report?.timed_out) {
    const message = report?.cpu_limit
      ? `time limit of ${limits.time_ms} ms exceeded: the program's threads used ${report.cpu_time.toFixed(1)} s of CPU`
      : `time limit of ${limits.time_ms} ms exceeded`;
    return { status: 'timeout', signal: null, message };
  }
  // gVisor may SIGKILL a program that outgrows the sandbox's memory itself, before the host's OOM
  // killer would (no Docker OOM event then). Under systrap the host's OOM killer may kill only the
  // program's address space (its stub process): gVisor then ends the program with exit status 1,
  // not through the program's own exit path, and the sandbox lives on. Either way, ended from
  // outside while holding more than its limit is that limit.
  const endedFromOutside = report !== null && (report.signal === 9 || (report.signal === null && !report.ended_itself));
  // (A refused action also ends the program without its exit path: that is the harness's doing.)
  const killedOverLimit =
    endedFromOutside && !report.violation && report.exit_code !== 0 && report.max_rss_kb >= limits.memory_mb * 1024;
  if (run.oomKilled || report?.memory_error || killedOverLimit)
    return { status: 'memory_limit', signal: null, message: `memory limit of ${limits.memory_mb} MB exceeded` };
  if (run.killedBy === 'output_cap' || outputBytes > outputCap)
    return { status: 'output_limit', signal: null, message: `output exceeded ${outputCap} bytes; the run was stopped` };
  if (report?.violation) {
    const where = report.violation.line === null ? '' : ` (line ${report.violation.line})`;
    return { status: 'security_violation', signal: null, message: `${report.violation.message}${where}` };
  }
  if (!report && run.exitCode === HARNESS_FRAME_ERROR_EXIT)
    return { status: 'internal_error', signal: null, message: 'the sandbox harness rejected its job frame' };
  if (exit === null) return { status: 'internal_error', signal: null, message: 'the sandbox exit code was lost' };
  if (signal !== null)
    return {
      status: 'runtime_error',
      signal,
      message: `killed by signal ${signal} (${SIGNAL_NAMES[signal] ?? 'unknown'})`,
    };
  if (exit !== 0) return { status: 'runtime_error', signal: null, message: `exited with code ${exit}` };
  return { status: 'ok', signal: null };
}
