import { WIRE } from './wire.js';

/**
 * The supervisor's report on one run (infra/sandbox/harness/supervisor.py, judge). It reaches the
 * worker in a frame on a descriptor the program never holds; what it says of the program's own
 * status lines (memory_error, ended_itself, a policy refusal) the program could have forged, to its
 * own detriment only.
 */
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
  /** The program's own allocation was refused by its limit: an uncaught MemoryError, or ENOMEM from any allocation route. */
  memory_error: boolean;
  /** The program ended by its own exit path (end of code, sys.exit, an exception); false when it was ended from outside. */
  ended_itself: boolean;
  /** A refused action: the policy layer's message, or the seccomp filter's kill (SIGSYS). */
  violation: { message: string; line: number | null } | null;
  /**
   * An interactive run's bound that ended it: its CPU time (`cpu`, the time limit), its wall clock
   * or the time without input (`idle`); null when none did. Absent for any other run.
   */
  bound?: 'cpu' | 'wall' | 'idle' | null;
  /** Artifacts the supervisor dropped past the job's caps (present when it sent, dropped or skipped any). */
  artifacts_dropped?: number;
  /** The first MAX_DROPPED_NAMES of their names. */
  dropped_names?: string[];
  /** Output files left out for an unusable name (no limit's doing), and the first of their names. */
  artifacts_skipped?: number;
  skipped_names?: string[];
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

function hasReportShape(r: Record<string, unknown>): boolean {
  return (
    r.v === WIRE.version &&
    typeof r.timed_out === 'boolean' &&
    typeof r.memory_error === 'boolean' &&
    typeof r.ended_itself === 'boolean' &&
    (r.cpu_limit === undefined || typeof r.cpu_limit === 'boolean') &&
    isNum(r.exit_code) &&
    isNum(r.time) &&
    isNum(r.cpu_time) &&
    isNum(r.max_rss_kb) &&
    (r.signal === null || isNum(r.signal)) &&
    isViolation(r.violation)
  );
}

const namesOf = (count: unknown, names: unknown) =>
  isCount(count) && isNameList(names)
    ? { count, names: names.slice(0, WIRE.artifacts.maxDroppedNames).map(shownName) }
    : null;

/** A report frame's payload as a report; null when it is not one (a harness fault, never the program's). */
export function parseReport(payload: Buffer): HarnessReport | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const r = parsed as Record<string, unknown>;
  if (!hasReportShape(r)) return null;
  const dropped = namesOf(r.artifacts_dropped, r.dropped_names);
  const skipped = namesOf(r.artifacts_skipped, r.skipped_names);
  return {
    timed_out: r.timed_out as boolean,
    cpu_limit: r.cpu_limit === true,
    exit_code: r.exit_code as number,
    signal: r.signal as number | null,
    time: r.time as number,
    cpu_time: r.cpu_time as number,
    max_rss_kb: Math.max(0, (r.max_rss_kb as number) - (isNum(r.base_rss_kb) ? r.base_rss_kb : 0)),
    memory_error: r.memory_error as boolean,
    ended_itself: r.ended_itself as boolean,
    violation: r.violation as HarnessReport['violation'],
    ...(dropped ? { artifacts_dropped: dropped.count, dropped_names: dropped.names } : {}),
    ...(skipped ? { artifacts_skipped: skipped.count, skipped_names: skipped.names } : {}),
    ...(isBound(r.bound) ? { bound: r.bound } : {}),
  };
}

const BOUNDS: readonly unknown[] = ['cpu', 'wall', 'idle', null];
const isBound = (v: unknown): v is HarnessReport['bound'] => BOUNDS.includes(v);

/** One artifact as the worker keeps it: a figure or a file from /tmp/outputs, its raw bytes. */
export interface RawArtifact {
  name: string;
  mime: string;
  data: Buffer;
}

/** Names of dropped artifacts kept for the message (the count has no bound). */
export const MAX_DROPPED_NAMES = WIRE.artifacts.maxDroppedNames;
export const MAX_ARTIFACT_NAME = WIRE.artifacts.maxName;

/**
 * A name an artifact may have: a relative path of printable characters, no empty, `.` or `..`
 * segment, no backslash, at most MAX_ARTIFACT_NAME characters (the supervisor's clean_name).
 * Characters are code points, as Python counts them: an astral one (an emoji) is two UTF-16 units.
 */
export function isArtifactName(name: unknown): name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 2 * MAX_ARTIFACT_NAME) return false;
  if (!PRINTABLE.test(name) || name.includes('\\')) return false;
  if (Array.from(name).length > MAX_ARTIFACT_NAME) return false;
  return name.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

// No control characters (C0, DEL, C1), no line or paragraph separators, no lone surrogates.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const PRINTABLE = /^(?:[^\u0000-\u001f\u007f-\u009f\u2028\u2029\ud800-\udfff]|[\ud800-\udbff][\udc00-\udfff])*$/;
export const MIME = /^[A-Za-z0-9.+-]{1,60}\/[A-Za-z0-9.+-]{1,60}$/;

/** Any name, made printable and short, for the list of dropped artifacts. */
export function shownName(name: string): string {
  return Array.from(name)
    .slice(0, MAX_ARTIFACT_NAME)
    .map((c) => (PRINTABLE.test(c) && c !== '\\' ? c : '?'))
    .join('');
}
