import { decode64, type JobRequest, type Judge0Input } from '@sbx/shared';
import { splitArguments } from './args.js';
import { judge0Language } from './languages.js';
import { type Judge0Bound, type Judge0Bounds, rubyNumber } from './limits.js';

/** Judge0's 422 body: each refused attribute with its messages. */
export type Judge0Errors = Record<string, string[]>;

export type ParsedSubmission =
  | { ok: true; input: Judge0Input; request: JobRequest }
  | { ok: false; errors: Judge0Errors };

export interface ParseContext {
  bounds: Judge0Bounds;
  base64: boolean;
  callbacksAllowed: boolean;
  /** SBX_MAX_STDIN_BYTES: stdin and expected_output together, as our jobs' stdin and test data are. */
  maxInputBytes: number;
  now: Date;
}

// Rails' casts: what it takes for false, and for "no value".
const FALSE_VALUES = new Set<unknown>([false, 0, '0', 'f', 'F', 'false', 'FALSE', 'off', 'OFF']);
const isBlank = (v: unknown) => v === undefined || v === null || (typeof v === 'string' && v.trim() === '');

function toBoolean(v: unknown, def: boolean): boolean {
  if (v === undefined || v === null || v === '') return def;
  return !FALSE_VALUES.has(v);
}

function toText(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  return typeof v === 'string' ? v : String(v);
}

class Checker {
  readonly errors: Judge0Errors = {};
  add(field: string, message: string) {
    this.errors[field] ??= [];
    this.errors[field]?.push(message);
  }

  /** A numeric setting as Rails' numericality validation checks it; null means its default. */
  number(field: keyof Judge0Bounds, raw: unknown, bound: Judge0Bound, integer: boolean): number {
    if (raw === undefined || raw === null || raw === '') return bound.def;
    const text = String(raw).trim();
    const value = Number(text);
    if (text === '' || typeof raw === 'boolean' || !Number.isFinite(value)) {
      this.add(field, 'is not a number');
      return bound.def;
    }
    const n = integer ? Math.trunc(value) : value;
    const show = (x: number) => rubyNumber(x, bound.decimal);
    if (bound.minExclusive ? n <= bound.min : n < bound.min)
      this.add(field, `must be greater than ${bound.minExclusive ? '' : 'or equal to '}${show(bound.min)}`);
    else if (n > bound.max) this.add(field, `must be less than or equal to ${show(bound.max)}`);
    return n;
  }
}

const textIn = (params: Record<string, unknown>, key: string, base64: boolean): string | null => {
  const text = toText(params[key]);
  return text !== null && base64 ? decode64(text).toString('utf8') : text;
};

/** The time limit our job gets: the tighter of the Judge0 limits the client set, else ours. */
function timeMs(params: Record<string, unknown>, input: Judge0Input): number | undefined {
  const given = [
    isBlank(params.cpu_time_limit) ? null : input.cpu_time_limit,
    isBlank(params.wall_time_limit) ? null : input.wall_time_limit,
  ].filter((s): s is number => s !== null);
  if (given.length === 0) return undefined;
  return Math.max(1, Math.round(Math.min(...given) * 1000));
}

/** What we refuse outright, with Judge0's own texts for its switches turned off. */
function refuseUnsupported(params: Record<string, unknown>, check: Checker, ctx: ParseContext): void {
  if (!isBlank(params.compiler_options))
    check.add('compiler_options', 'setting compiler options is only allowed for compiled languages');
  if (!isBlank(params.additional_files)) check.add('additional_files', 'setting additional files is not allowed');
  if (toBoolean(params.enable_network, false)) check.add('enable_network', 'enabling network is not allowed');
  if (!isBlank(params.callback_url) && !ctx.callbacksAllowed)
    check.add('callback_url', 'setting callback is not allowed');
  for (const flag of ['enable_per_process_and_thread_time_limit', 'enable_per_process_and_thread_memory_limit'])
    if (toBoolean(params[flag], false)) check.add(flag, 'this option cannot be enabled');
  for (const field of ['compiler_options', 'command_line_arguments'])
    if ((toText(params[field]) ?? '').length > 512) check.add(field, 'is too long (maximum is 512 characters)');
}

/** Reads one Judge0 submission (body and query string merged) the way Judge0's model validates it. */
export function parseSubmission(params: Record<string, unknown>, ctx: ParseContext): ParsedSubmission {
  const check = new Checker();
  const { bounds, base64 } = ctx;
  const source = textIn(params, 'source_code', base64);
  if (isBlank(source)) check.add('source_code', "can't be blank");
  const languageId = isBlank(params.language_id) ? null : Number(String(params.language_id).trim());
  if (languageId === null) check.add('language_id', "can't be blank");
  else if (!Number.isInteger(languageId) || !judge0Language(languageId))
    check.add('language_id', `language with id ${String(params.language_id).trim()} doesn't exist`);
  const num = (field: keyof Judge0Bounds, integer: boolean) =>
    check.number(field, params[field], bounds[field], integer);
  const input: Judge0Input = {
    source_code: source ?? '',
    language_id: languageId ?? 0,
    stdin: textIn(params, 'stdin', base64),
    expected_output: textIn(params, 'expected_output', base64),
    number_of_runs: num('number_of_runs', true),
    cpu_time_limit: num('cpu_time_limit', false),
    cpu_extra_time: num('cpu_extra_time', false),
    wall_time_limit: num('wall_time_limit', false),
    memory_limit: num('memory_limit', true),
    stack_limit: num('stack_limit', true),
    max_processes_and_or_threads: num('max_processes_and_or_threads', true),
    enable_per_process_and_thread_time_limit: toBoolean(params.enable_per_process_and_thread_time_limit, false),
    enable_per_process_and_thread_memory_limit: toBoolean(params.enable_per_process_and_thread_memory_limit, false),
    max_file_size: num('max_file_size', true),
    compiler_options: toText(params.compiler_options),
    command_line_arguments: toText(params.command_line_arguments),
    redirect_stderr_to_stdout: toBoolean(params.redirect_stderr_to_stdout, false),
    callback_url: isBlank(params.callback_url) ? null : toText(params.callback_url),
    enable_network: toBoolean(params.enable_network, false),
    created_at: ctx.now.toISOString(),
  };
  refuseUnsupported(params, check, ctx);
  const inputBytes = Buffer.byteLength(input.stdin ?? '') + Buffer.byteLength(input.expected_output ?? '');
  if (input.expected_output !== null && inputBytes > ctx.maxInputBytes)
    check.add(
      'expected_output',
      `is too long (stdin and expected_output are ${inputBytes} bytes together; the maximum is ${ctx.maxInputBytes})`,
    );
  if (Object.keys(check.errors).length > 0) return { ok: false, errors: check.errors };
  return { ok: true, input, request: jobRequestFor(params, input) };
}

/** Our job for a valid submission: output always comes back as bytes, so base64 answers are exact. */
function jobRequestFor(params: Record<string, unknown>, input: Judge0Input): JobRequest {
  const time = timeMs(params, input);
  const memoryGiven = !isBlank(params.memory_limit);
  const args = splitArguments(input.command_line_arguments ?? '');
  return {
    code: input.source_code,
    ...(input.stdin !== null ? { stdin: input.stdin } : {}),
    ...(args.length > 0 ? { args } : {}),
    ...(time !== undefined || memoryGiven
      ? {
          limits: {
            ...(time !== undefined ? { time_ms: time } : {}),
            ...(memoryGiven ? { memory_mb: Math.ceil(input.memory_limit / 1024) } : {}),
          },
        }
      : {}),
    output_encoding: 'base64',
  };
}
