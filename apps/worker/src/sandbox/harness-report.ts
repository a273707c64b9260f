/** The supervisor's report (infra/sandbox/harness/supervisor.py). Forgeable by user code: judge with care. */
export interface HarnessReport {
  timed_out: boolean;
  /** The time limit was reached through the CPU backstop (RLIMIT_CPU), before the wall clock. */
  cpu_limit: boolean;
  exit_code: number;
  signal: number | null;
  time: number;
  cpu_time: number;
  max_rss_kb: number;
  memory_error: boolean;
  /** The program ended by its own exit path (end of code, sys.exit, an exception); false when it was ended from outside. */
  ended_itself: boolean;
  violation: { message: string; line: number | null } | null;
}

export const HARNESS_PROTOCOL_VERSION = 1;

/** The single line the supervisor reads from stdin. */
export function encodeJobFrame(frame: {
  nonce: string;
  code: string;
  stdin: string;
  args?: string[];
  time_ms: number;
  memory_mb: number;
  policy: 'strict' | 'standard' | 'off';
  tests?: { stdin: string; args?: string[]; time_ms: number; memory_mb: number }[];
  stop_on_failure?: boolean;
}): string {
  return `${JSON.stringify({ v: HARNESS_PROTOCOL_VERSION, ...frame })}\n`;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isViolation = (v: unknown): v is HarnessReport['violation'] => {
  if (v === null) return true;
  if (typeof v !== 'object') return false;
  const { message, line } = v as Record<string, unknown>;
  return typeof message === 'string' && (line === null || isNum(line));
};

/**
 * Finds the report the supervisor appended to stderr and returns stderr
 * without it. Only a report at the very end with our nonce counts.
 */
export function extractReport(stderr: Buffer, nonce: string): { stderr: Buffer; report: HarnessReport | null } {
  const marker = Buffer.from(`\n\x1esbx-report:${nonce}:`);
  const at = stderr.lastIndexOf(marker);
  if (at < 0) return { stderr, report: null };
  const line = stderr.subarray(at + marker.length).toString('utf8');
  if (!line.endsWith('\n') || line.indexOf('\n') !== line.length - 1) return { stderr, report: null };
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return { stderr, report: null };
  }
  const r = parsed as Record<string, unknown>;
  if (
    r.v !== HARNESS_PROTOCOL_VERSION ||
    typeof r.timed_out !== 'boolean' ||
    typeof r.memory_error !== 'boolean' ||
    typeof r.ended_itself !== 'boolean' ||
    !(r.cpu_limit === undefined || typeof r.cpu_limit === 'boolean') ||
    !isNum(r.exit_code) ||
    !isNum(r.time) ||
    !isNum(r.cpu_time) ||
    !isNum(r.max_rss_kb) ||
    !(r.signal === null || isNum(r.signal)) ||
    !isViolation(r.violation)
  )
    return { stderr, report: null };
  return {
    stderr: stderr.subarray(0, at),
    report: {
      timed_out: r.timed_out,
      cpu_limit: r.cpu_limit === true,
      exit_code: r.exit_code,
      signal: r.signal,
      time: r.time,
      cpu_time: r.cpu_time,
      max_rss_kb: r.max_rss_kb,
      memory_error: r.memory_error,
      ended_itself: r.ended_itself,
      violation: r.violation,
    },
  };
}

const doneMarker = (nonce: string) => `\n\x1esbx-done:${nonce}:`;

/**
 * The supervisor ends both streams with `\n\x1esbx-done:<nonce>:<exit code>\n` once everything is
 * reported. Returns the exit code when `tail` ends with that marker, else null.
 */
export function doneExitCode(tail: Buffer, nonce: string): number | null {
  const text = tail.toString('latin1');
  const marker = doneMarker(nonce);
  const at = text.lastIndexOf(marker);
  if (at < 0) return null;
  const rest = text.slice(at + marker.length);
  return /^\d{1,3}\n$/.test(rest) ? Number(rest.slice(0, -1)) : null;
}

/** The stream without its trailing done marker, when it has one. */
export function stripDone(stream: Buffer, nonce: string): Buffer {
  const tail = stream.subarray(Math.max(0, stream.length - 256));
  if (doneExitCode(tail, nonce) === null) return stream;
  const at = stream.lastIndexOf(Buffer.from(doneMarker(nonce)));
  return stream.subarray(0, at);
}
