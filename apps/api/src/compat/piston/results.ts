import { type RunResult, signalName } from '@sbx/shared';

/** Piston's `run` stage result (api/src/job.js, safe_call), key for key. */
export interface PistonRun {
  signal: string | null;
  stdout: string;
  stderr: string;
  code: number | null;
  output: string;
  memory: number | null;
  message: string | null;
  status: 'RE' | 'SG' | 'TO' | 'OL' | 'EL' | 'XX' | null;
  cpu_time: number | null;
  wall_time: number | null;
}

/** Piston's status, signal, code and message for each of our verdicts (docs/compat.md, Piston). */
type Ending = Pick<PistonRun, 'status' | 'signal' | 'code' | 'message'>;

/** A program ended by signal n: isolate's words for it. */
const signalled = (n: number, message?: string): Ending => ({
  status: 'SG',
  signal: signalName(n) ?? null,
  code: null,
  message: message ?? `Caught fatal signal ${n}`,
});

function endingOf(result: RunResult): Ending {
  const ourMessage = result.message ?? null;
  switch (result.status) {
    case 'ok':
      return { status: null, signal: null, code: result.exit_code ?? 0, message: null };
    case 'timeout':
      return { status: 'TO', signal: 'SIGKILL', code: null, message: 'Time limit exceeded' };
    case 'memory_limit':
      // Isolate sees a cgroup OOM kill as a SIGKILL; ours says which limit.
      return signalled(9, ourMessage ?? 'Memory limit exceeded');
    case 'output_limit':
      return result.stdout_truncated || !result.stderr_truncated
        ? { status: 'OL', signal: 'SIGKILL', code: null, message: 'stdout length exceeded' }
        : { status: 'EL', signal: 'SIGKILL', code: null, message: 'stderr length exceeded' };
    case 'runtime_error':
    case 'security_violation':
      if (result.signal !== null)
        return signalled(result.signal, result.status === 'runtime_error' ? undefined : (ourMessage ?? undefined));
      return {
        status: 'RE',
        signal: null,
        code: result.exit_code,
        message: result.status === 'runtime_error' ? `Exited with error status ${result.exit_code}` : ourMessage,
      };
    default:
      // cancelled (internal_error never gets here: the route answers 500).
      return { status: 'XX', signal: null, code: null, message: ourMessage };
  }
}

/**
 * Our result as Piston's `run`: times in ms, memory in bytes. `output` is both streams in the order
 * they were written, when the live events kept it (interleavedOutput), else stdout then stderr.
 */
export function pistonRun(result: RunResult, output: string | null): PistonRun {
  const ending = endingOf(result);
  return {
    signal: ending.signal,
    stdout: result.stdout,
    stderr: result.stderr,
    code: ending.code,
    output: output ?? result.stdout + result.stderr,
    memory: result.memory_kb === null ? null : result.memory_kb * 1024,
    message: ending.message,
    status: ending.status,
    cpu_time: result.cpu_time === null ? null : Math.round(result.cpu_time * 1000),
    wall_time: Math.round(result.time * 1000),
  };
}
