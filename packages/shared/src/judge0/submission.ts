import type { RunResult } from '../schemas.js';
import type { JobState } from '../status.js';
import { J0, type Judge0Status, judge0Status, statusForSignal } from './status.js';
import { decimalString, encode64, judge0Accepts } from './text.js';

/**
 * What a Judge0 client sent, kept beside the job (`<prefix>:judge0:<token>`) for as long as its
 * result: `fields=*` answers with all of it, and the status needs expected_output.
 */
export interface Judge0Input {
  source_code: string;
  language_id: number;
  stdin: string | null;
  expected_output: string | null;
  number_of_runs: number;
  cpu_time_limit: number;
  cpu_extra_time: number;
  wall_time_limit: number;
  memory_limit: number;
  stack_limit: number;
  max_processes_and_or_threads: number;
  enable_per_process_and_thread_time_limit: boolean;
  enable_per_process_and_thread_memory_limit: boolean;
  max_file_size: number;
  compiler_options: string | null;
  command_line_arguments: string | null;
  redirect_stderr_to_stdout: boolean;
  callback_url: string | null;
  enable_network: boolean;
  created_at: string;
}

/** What the run gave, in Judge0's terms. */
export interface Judge0Outcome {
  status: Judge0Status;
  stdout: Buffer | null;
  stderr: Buffer | null;
  message: string | null;
  time: string | null;
  wall_time: string | null;
  memory: number | null;
  exit_code: number | null;
  exit_signal: number | null;
  finished_at: string | null;
}

/** Every attribute of Judge0's serializer, in its column order (db/schema.rb), then status and language. */
export const JUDGE0_FIELDS = [
  'source_code',
  'language_id',
  'stdin',
  'expected_output',
  'stdout',
  'status_id',
  'created_at',
  'finished_at',
  'time',
  'memory',
  'stderr',
  'token',
  'number_of_runs',
  'cpu_time_limit',
  'cpu_extra_time',
  'wall_time_limit',
  'memory_limit',
  'stack_limit',
  'max_processes_and_or_threads',
  'enable_per_process_and_thread_time_limit',
  'enable_per_process_and_thread_memory_limit',
  'max_file_size',
  'compile_output',
  'exit_code',
  'exit_signal',
  'message',
  'wall_time',
  'compiler_options',
  'command_line_arguments',
  'redirect_stderr_to_stdout',
  'callback_url',
  'additional_files',
  'enable_network',
  'status',
  'language',
] as const;
export type Judge0Field = (typeof JUDGE0_FIELDS)[number];

export const JUDGE0_DEFAULT_FIELDS: readonly Judge0Field[] = [
  'token',
  'time',
  'memory',
  'stdout',
  'stderr',
  'compile_output',
  'message',
  'status',
];

/** Text attributes: base64 with base64_encoded=true, else they must be UTF-8. */
const TEXT_FIELDS = new Set<Judge0Field>([
  'source_code',
  'stdin',
  'expected_output',
  'stdout',
  'stderr',
  'compile_output',
  'message',
]);

const bytesOf = (text: string, base64: boolean): Buffer | null => {
  if (text === '') return null;
  return Buffer.from(text, base64 ? 'base64' : 'utf8');
};

/** Judge0's exit_code and exit_signal: a signalled run has no exit code, which Judge0 writes as 0. */
function exitOf(result: RunResult): Pick<Judge0Outcome, 'exit_code' | 'exit_signal'> {
  if (result.signal !== null) return { exit_code: 0, exit_signal: result.signal };
  return { exit_code: result.exit_code ?? 0, exit_signal: null };
}

/** The status and message a finished run gets: the table in docs/compat.md. */
function verdictOf(
  result: RunResult,
  stdout: Buffer | null,
  expected: string | null,
): Pick<Judge0Outcome, 'status' | 'message' | 'exit_code' | 'exit_signal'> {
  const own = result.message ?? null;
  switch (result.status) {
    case 'ok':
      return {
        status: judge0Status(judge0Accepts(expected, stdout) ? J0.accepted : J0.wrongAnswer),
        message: null,
        ...exitOf(result),
      };
    case 'timeout':
      return { status: judge0Status(J0.timeLimit), message: 'Time limit exceeded', ...exitOf(result) };
    case 'memory_limit':
      // What Judge0 shows for a Python killed by its cgroup, and what its users test for.
      return {
        status: judge0Status(J0.nzec),
        message: 'Exited with error status 137',
        exit_code: 137,
        exit_signal: null,
      };
    case 'output_limit':
      return { status: judge0Status(J0.sigxfsz), message: own, exit_code: 0, exit_signal: 25 };
    case 'runtime_error':
      if (result.signal !== null)
        return {
          status: judge0Status(statusForSignal(result.signal)),
          message: `Caught fatal signal ${result.signal}`,
          exit_code: 0,
          exit_signal: result.signal,
        };
      return {
        status: judge0Status(J0.nzec),
        message: `Exited with error status ${result.exit_code ?? 1}`,
        exit_code: result.exit_code ?? 1,
        exit_signal: null,
      };
    case 'security_violation':
      return { status: judge0Status(J0.other), message: own, ...exitOf(result) };
    default:
      // internal_error and cancelled: nothing the program did.
      return { status: judge0Status(J0.internal), message: own, exit_code: null, exit_signal: null };
  }
}

/** A job's state and result in Judge0's terms: In Queue, Processing, or the verdict of its run. */
export function judge0Outcome(
  state: JobState,
  result: RunResult | undefined,
  input: Pick<Judge0Input, 'expected_output' | 'redirect_stderr_to_stdout'>,
): Judge0Outcome {
  if (state !== 'completed' || !result) {
    const status = judge0Status(state === 'running' ? J0.processing : J0.queue);
    return {
      status,
      stdout: null,
      stderr: null,
      message: null,
      time: null,
      wall_time: null,
      memory: null,
      exit_code: null,
      exit_signal: null,
      finished_at: null,
    };
  }
  const base64 = result.output_encoding === 'base64';
  let stdout = bytesOf(result.stdout, base64);
  let stderr = bytesOf(result.stderr, base64);
  if (input.redirect_stderr_to_stdout && stderr) {
    // Both streams in one, stdout's bytes first: we keep them apart, so their interleaving is lost.
    stdout = stdout ? Buffer.concat([stdout, stderr]) : stderr;
    stderr = null;
  }
  const neverRan = result.status === 'internal_error' || result.status === 'cancelled';
  return {
    ...verdictOf(result, stdout, input.expected_output),
    stdout,
    stderr,
    time: neverRan ? null : decimalString(result.cpu_time ?? result.time),
    wall_time: neverRan ? null : decimalString(result.time),
    memory: result.memory_kb,
    finished_at: result.finished_at,
  };
}

/** Thrown when a text attribute is not UTF-8 and base64 was not asked for: Judge0's 400. */
export class NotUtf8Error extends Error {
  constructor() {
    super('some attributes for this submission cannot be converted to UTF-8, use base64_encoded=true query parameter');
    this.name = 'NotUtf8Error';
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function textValue(value: Buffer | string | null, base64: boolean): string | null {
  if (value === null) return null;
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  if (base64) return encode64(bytes);
  try {
    return utf8.decode(bytes);
  } catch {
    throw new NotUtf8Error();
  }
}

/** Everything a serialized submission may hold, before fields are picked. */
export interface Judge0Submission {
  token: string;
  input: Partial<Judge0Input>;
  outcome: Judge0Outcome;
  language: { id: number; name: string } | null;
}

function rawValue(field: Judge0Field, { token, input, outcome, language }: Judge0Submission): unknown {
  switch (field) {
    case 'token':
      return token;
    case 'status':
      return outcome.status;
    case 'status_id':
      return outcome.status.id;
    case 'language':
      return language;
    case 'stdout':
    case 'stderr':
    case 'message':
    case 'time':
    case 'wall_time':
    case 'memory':
    case 'exit_code':
    case 'exit_signal':
    case 'finished_at':
      return outcome[field];
    case 'compile_output':
    case 'additional_files':
      return null;
    case 'cpu_time_limit':
    case 'cpu_extra_time':
    case 'wall_time_limit':
      return input[field] === undefined ? null : decimalString(input[field], 3);
    default:
      return input[field] ?? null;
  }
}

/** The submission as Judge0's serializer writes it: the requested fields, text as UTF-8 or base64. */
export function serializeJudge0(
  submission: Judge0Submission,
  fields: readonly Judge0Field[],
  base64: boolean,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of JUDGE0_FIELDS) {
    if (!fields.includes(field)) continue;
    const value = rawValue(field, submission);
    out[field] = TEXT_FIELDS.has(field) ? textValue(value as Buffer | string | null, base64) : value;
  }
  return out;
}

/**
 * What Judge0 PUTs to a submission's callback_url when it finishes (isolate_job.rb call_callback):
 * the default fields, base64.
 */
export function judge0CallbackBody(
  result: RunResult,
  input: Pick<Judge0Input, 'expected_output' | 'redirect_stderr_to_stdout'>,
): Record<string, unknown> {
  const outcome = judge0Outcome('completed', result, input);
  return serializeJudge0({ token: result.id, input: {}, outcome, language: null }, JUDGE0_DEFAULT_FIELDS, true);
}

/** How a Judge0 callback travels through our webhook queue: a PUT of the bare submission. */
export const JUDGE0_CALLBACK_SHAPE = { method: 'PUT', envelope: false } as const;
