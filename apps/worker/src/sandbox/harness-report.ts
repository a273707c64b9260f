/** The supervisor's report (infra/sandbox/harness/supervisor.py). Forgeable by user code: judge with care. */
export interface HarnessReport {
  timed_out: boolean;
  /** The time limit was reached through the CPU backstop (RLIMIT_CPU), before the wall clock. */
  cpu_limit: boolean;
  exit_code: number;
  signal: number | null;
  time: number;
  cpu_time: number;
  /**
   * Peak resident memory of the program on top of what its process held before it started (the
   * preloaded libraries: about 130 MB in python-data), which it is not charged for.
   */
  max_rss_kb: number;
  memory_error: boolean;
  /** The program ended by its own exit path (end of code, sys.exit, an exception); false when it was ended from outside. */
  ended_itself: boolean;
  violation: { message: string; line: number | null } | null;
  /** Artifacts the supervisor dropped past the job's caps (present when it sent or dropped any). */
  artifacts_dropped?: number;
  /** The first MAX_DROPPED_NAMES of their names. */
  dropped_names?: string[];
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
  /** What comes back as artifacts (max_count 0: nothing; never for tests). */
  artifacts?: { format: 'png' | 'svg'; max_count: number; max_bytes: number };
}): string {
  return `${JSON.stringify({ v: HARNESS_PROTOCOL_VERSION, ...frame })}\n`;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isNameList = (v: unknown): v is string[] => Array.isArray(v) && v.every((n) => typeof n === 'string');
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
  const dropped = isCount(r.artifacts_dropped) && isNameList(r.dropped_names);
  return {
    stderr: stderr.subarray(0, at),
    report: {
      timed_out: r.timed_out,
      cpu_limit: r.cpu_limit === true,
      exit_code: r.exit_code,
      signal: r.signal,
      time: r.time,
      cpu_time: r.cpu_time,
      max_rss_kb: Math.max(0, (r.max_rss_kb as number) - (isNum(r.base_rss_kb) ? r.base_rss_kb : 0)),
      memory_error: r.memory_error,
      ended_itself: r.ended_itself,
      violation: r.violation,
      ...(dropped
        ? {
            artifacts_dropped: r.artifacts_dropped as number,
            dropped_names: (r.dropped_names as string[]).slice(0, MAX_DROPPED_NAMES).map(shownName),
          }
        : {}),
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

/** One artifact as the worker keeps it: a figure or a file from /tmp/outputs, its raw bytes. */
export interface RawArtifact {
  name: string;
  mime: string;
  data: Buffer;
}

/** What came back of a run's artifacts: those kept, in order, and how many (and which) were dropped. */
export interface ExtractedArtifacts {
  /** stderr without the artifact frames: the user's bytes exactly, then the report line (if any). */
  stderr: Buffer;
  artifacts: RawArtifact[];
  /** Dropped by the worker itself here (past its caps, malformed, cut short); the report says what the supervisor dropped. */
  dropped: { count: number; names: string[] };
}

/** Names of dropped artifacts kept for the message (the count has no bound). */
export const MAX_DROPPED_NAMES = 20;
export const MAX_ARTIFACT_NAME = 200;

/** The supervisor's marker before its artifact frames: `\n\x1esbx-artifacts:<nonce>:<total base64 bytes>\n`. */
export const artifactsMarker = (nonce: string) => `\n\x1esbx-artifacts:${nonce}:`;

/**
 * A name an artifact may have: a relative path of printable characters, no empty, `.` or `..`
 * segment, no backslash, at most MAX_ARTIFACT_NAME characters (the supervisor's clean_name).
 */
export function isArtifactName(name: unknown): name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_ARTIFACT_NAME) return false;
  if (!PRINTABLE.test(name) || name.includes('\\')) return false;
  return name.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

// No control characters (C0, DEL, C1), no line or paragraph separators, no lone surrogates.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const PRINTABLE = /^(?:[^\u0000-\u001f\u007f-\u009f\u2028\u2029\ud800-\udfff]|[\ud800-\udbff][\udc00-\udfff])*$/;
const MIME = /^[A-Za-z0-9.+-]{1,60}\/[A-Za-z0-9.+-]{1,60}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Any name, made printable and short, for the list of dropped artifacts. */
export function shownName(name: string): string {
  return Array.from(name.slice(0, MAX_ARTIFACT_NAME))
    .map((c) => (PRINTABLE.test(c) && c !== '\\' ? c : '?'))
    .join('');
}

/**
 * Takes the supervisor's artifact frames out of stderr (infra/sandbox/harness/supervisor.py,
 * write_artifacts): after the last start marker with our nonce and before the report line at the
 * end (or the end, when the report is missing), each `\x1esbx-artifact:<nonce>:<json>\n<base64>\n`.
 * Everything after that marker is the supervisor's (it killed every other process first), so user
 * stderr comes out exactly as written. The caps are checked again here, in order: past one, what fit
 * is kept and the rest dropped. The frames are forgeable by user code that found the nonce; that can
 * only change its own result.
 */
export function extractArtifacts(
  stderr: Buffer,
  nonce: string,
  caps: { maxCount: number; maxBytes: number },
): ExtractedArtifacts {
  const none: ExtractedArtifacts = { stderr, artifacts: [], dropped: { count: 0, names: [] } };
  const reportMarker = Buffer.from(`\n\x1esbx-report:${nonce}:`);
  const reportAt = stderr.lastIndexOf(reportMarker);
  const reportLine = reportAt < 0 ? -1 : stderr.indexOf(0x0a, reportAt + reportMarker.length);
  const end = reportAt >= 0 && reportLine === stderr.length - 1 ? reportAt : stderr.length;
  const marker = Buffer.from(artifactsMarker(nonce));
  if (end < marker.length) return none;
  const start = stderr.lastIndexOf(marker, end - marker.length);
  if (start < 0) return none;
  const startLine = stderr.indexOf(0x0a, start + marker.length);
  if (
    startLine < 0 ||
    startLine >= end ||
    !/^\d{1,15}$/.test(stderr.toString('latin1', start + marker.length, startLine))
  )
    return none;

  const artifacts: RawArtifact[] = [];
  const names = new Set<string>();
  const dropped = { count: 0, names: [] as string[] };
  let keptBytes = 0;
  let full = false;
  const drop = (name: string, cap = true) => {
    full = full || cap;
    dropped.count += 1;
    if (dropped.names.length < MAX_DROPPED_NAMES) dropped.names.push(shownName(name));
  };
  const prefix = Buffer.from(`\x1esbx-artifact:${nonce}:`);
  let at = startLine + 1;
  while (at < end) {
    if (!stderr.subarray(at, at + prefix.length).equals(prefix)) break;
    const headerEnd = stderr.indexOf(0x0a, at + prefix.length);
    if (headerEnd < 0 || headerEnd >= end) break;
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(stderr.toString('utf8', at + prefix.length, headerEnd)) as Record<string, unknown>;
    } catch {
      break;
    }
    if (typeof header !== 'object' || header === null) break;
    const { name, mime, bytes } = header;
    const label = typeof name === 'string' ? name : '?';
    const dataEnd = stderr.indexOf(0x0a, headerEnd + 1);
    if (!Number.isSafeInteger(bytes) || (bytes as number) < 0 || dataEnd < 0 || dataEnd >= end) {
      // Cut short (the run was stopped while the artifacts were being written) or not a frame.
      if (Number.isSafeInteger(bytes)) drop(label);
      break;
    }
    at = dataEnd + 1;
    const size = bytes as number;
    const text = stderr.toString('latin1', headerEnd + 1, dataEnd);
    if (text.length !== Math.ceil(size / 3) * 4 || !BASE64.test(text)) {
      drop(label);
      continue;
    }
    const data = Buffer.from(text, 'base64');
    if (data.length !== size) {
      drop(label);
      continue;
    }
    if (!isArtifactName(name) || names.has(name)) {
      drop(label, false);
      continue;
    }
    if (full || artifacts.length >= caps.maxCount || keptBytes + size > caps.maxBytes) {
      drop(name);
      continue;
    }
    names.add(name);
    keptBytes += size;
    artifacts.push({
      name,
      mime: typeof mime === 'string' && MIME.test(mime) ? mime : 'application/octet-stream',
      data,
    });
  }
  return { stderr: Buffer.concat([stderr.subarray(0, start), stderr.subarray(end)]), artifacts, dropped };
}
