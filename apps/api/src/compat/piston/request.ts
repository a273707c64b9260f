import type { FileEncoding, JobFile, JobRequest, Policy, ResolvedLimits } from '@sbx/shared';
import type { tenantLimits } from '../../services/job-validation.js';
import { type PistonRuntime, selectRuntime } from './runtimes.js';

/** A refusal in Piston's shape: `{message}` with this status. */
export class PistonError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'PistonError';
  }
}

type Bounds = ReturnType<typeof tenantLimits>;

/** An execute body as one of our jobs, the runtime it named, and the limits that were clamped. */
export interface PistonJob {
  request: JobRequest;
  runtime: PistonRuntime;
  /** `field=value used` for each limit asked above (or below) what we allow: the x-sbx-clamped header. */
  clamped: string[];
}

const MIB = 1024 * 1024;
const ENCODINGS: readonly string[] = ['utf8', 'base64', 'hex'] satisfies FileEncoding[];
const LIMIT_FIELDS = ['memory_limit', 'timeout', 'cpu_time'].flatMap((c) => [`compile_${c}`, `run_${c}`]);

const refuse = (message: string) => new PistonError(400, message);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Piston's own checks, in its order and with its texts (api/src/api/v2.js, get_job). */
function checkPistonFields(body: Record<string, unknown>): { language: string; version: string; files: unknown[] } {
  const { language, version, files } = body;
  if (!language || typeof language !== 'string') throw refuse('language is required as a string');
  if (!version || typeof version !== 'string') throw refuse('version is required as a string');
  if (!Array.isArray(files)) throw refuse('files is required as an array');
  files.forEach((file, i) => {
    if (!isObject(file) || typeof file.content !== 'string')
      throw refuse(`files[${i}].content is required as a string`);
  });
  return { language, version, files };
}

/** Limits: a number when given (0 and null are "not given", as in Piston); timeouts never negative. */
function checkLimitFields(body: Record<string, unknown>): void {
  for (const name of LIMIT_FIELDS) {
    const value = body[name];
    if (!value) continue;
    if (typeof value !== 'number') throw refuse(`If specified, ${name} must be a number`);
    if (value < 0 && !name.endsWith('memory_limit')) throw refuse(`${name} must be non-negative`);
  }
}

/** Piston's encodings; any other is utf8, as Piston takes it. */
const encodingOf = (file: Record<string, unknown>): FileEncoding =>
  typeof file.encoding === 'string' && ENCODINGS.includes(file.encoding) ? (file.encoding as FileEncoding) : 'utf8';

/** The entry (the first utf8 file, which Piston runs) as the code, every other file beside it. */
function splitFiles(files: Record<string, unknown>[]): { code: string; others: JobFile[] } {
  const entry = files.findIndex((f) => encodingOf(f) === 'utf8');
  if (entry < 0) throw refuse('files must include at least one utf8 encoded file');
  const others = files.flatMap((f, i) => {
    if (i === entry) return [];
    const name = typeof f.name === 'string' && f.name ? f.name : `file${i}.code`;
    return [{ name, content: f.content as string, encoding: encodingOf(f) }];
  });
  return { code: (files[entry] as Record<string, unknown>).content as string, others };
}

/** sys.argv[1:]: strings as given, numbers and booleans as text (Piston hands them to spawn). */
function argsOf(args: unknown): string[] {
  if (args === undefined || args === null) return [];
  if (!Array.isArray(args)) throw refuse('args must be an array of strings');
  return args.map((a) => {
    if (typeof a === 'string') return a;
    if (typeof a === 'number' || typeof a === 'boolean') return String(a);
    throw refuse('args must be an array of strings');
  });
}

/** Piston's stdin: as given, with a newline added when it does not end with one (Piston's job.js does). */
function stdinOf(stdin: unknown): string {
  if (stdin !== undefined && stdin !== null && typeof stdin !== 'string') throw refuse('stdin must be a string');
  const text = (stdin as string | null | undefined) ?? '';
  return text.endsWith('\n') ? text : `${text}\n`;
}

/**
 * Our limits from Piston's (ms, bytes): the run's wall clock is the smaller of run_timeout and
 * run_cpu_time given; memory -1 (Piston's "none") is our maximum. Beyond our bounds a limit is
 * clamped, never refused, and said in `clamped`: a client's defaults (run_timeout 3000,
 * run_memory_limit -1) must run.
 */
export function limitsOf(body: Record<string, unknown>, bounds: Bounds): { limits: ResolvedLimits; clamped: string[] } {
  const clamped: string[] = [];
  const given = (name: string) => (typeof body[name] === 'number' && body[name] ? (body[name] as number) : null);
  const times = [given('run_timeout'), given('run_cpu_time')].filter((t): t is number => t !== null);
  let time_ms = times.length > 0 ? Math.max(1, Math.ceil(Math.min(...times))) : bounds.defaultTimeMs;
  if (time_ms > bounds.maxTimeMs) {
    time_ms = bounds.maxTimeMs;
    clamped.push(`${given('run_timeout') !== null ? 'run_timeout' : 'run_cpu_time'}=${time_ms}`);
  }
  const memory = given('run_memory_limit');
  let memory_mb = memory === null ? bounds.defaultMemoryMb : Math.floor(memory / MIB);
  if (memory !== null && (memory < 0 || memory_mb > bounds.maxMemoryMb)) memory_mb = bounds.maxMemoryMb;
  else if (memory_mb < bounds.minMemoryMb) memory_mb = bounds.minMemoryMb;
  if (memory !== null && memory_mb * MIB !== memory) clamped.push(`run_memory_limit=${memory_mb * MIB}`);
  return { limits: { time_ms, memory_mb }, clamped };
}

/**
 * A Piston execute body (or a WebSocket init) as one of our jobs, checked as Piston checks it, with
 * its texts; what Piston leaves to its sandbox (names, sizes) is checked by ours after.
 */
export function pistonJob(body: unknown, runtimes: PistonRuntime[], bounds: Bounds, policy: Policy): PistonJob {
  const fields = isObject(body) ? body : {};
  const { language, version, files } = checkPistonFields(fields);
  const runtime = selectRuntime(runtimes, language, version);
  if (!runtime) throw refuse(`${language}-${version} runtime is unknown`);
  const { code, others } = splitFiles(files as Record<string, unknown>[]);
  checkLimitFields(fields);
  const { limits, clamped } = limitsOf(fields, bounds);
  const request: JobRequest = {
    code,
    stdin: stdinOf(fields.stdin),
    args: argsOf(fields.args),
    ...(others.length > 0 ? { files: others } : {}),
    limits,
    policy,
    environment: runtime.environment,
  };
  return { request, runtime, clamped };
}
