import { ApiError, type JobInputRequest } from '@sbx/shared';

/** Where a job's input stands, as Redis holds it (job-input.ts reads it). */
export interface InputState {
  /** Its result is stored: nothing more can reach the program. */
  finished: boolean;
  /** It has an input state hash: it was queued as interactive (and the hash has not expired). */
  interactive: boolean;
  /** UTF-8 bytes accepted after the body's stdin. */
  accepted: number;
  eof: boolean;
  /** Appends so far. */
  calls: number;
}

/** One call, its body checked (inputCall): bytes to append at `offset`, or the end of the input. */
export type InputCall = { offset: number; data: Buffer } | { offset: number; eof: true };

export interface InputCaps {
  /** SBX_STDIN_MAX_BYTES: input one job may get, after its body's stdin. */
  maxBytes: number;
  /** MAX_INPUT_CALLS. */
  maxCalls: number;
}

/**
 * What a call does to the state: nothing but an answer (a repeat of input already accepted, or an
 * eof already recorded), an append of the bytes past what was accepted, the close, or a refusal.
 */
export type InputPlan =
  | { kind: 'answer'; accepted: number; eof: boolean }
  | { kind: 'append'; data: Buffer; accepted: number }
  | { kind: 'close'; accepted: number }
  | { kind: 'refuse'; error: ApiError };

/**
 * The body as a call: exactly one of `data` and `eof`, and `data` within the per-call cap (in UTF-8
 * bytes: a lone surrogate counts as the U+FFFD it becomes, 3 bytes). Throws ApiError.
 */
export function inputCall(body: JobInputRequest, maxCallBytes: number): InputCall {
  if ((body.data === undefined) === (body.eof === undefined))
    throw new ApiError('validation_failed', 'body must have exactly one of data and eof', { field: 'data' });
  if (body.data === undefined) return { offset: body.offset, eof: true };
  const data = Buffer.from(body.data, 'utf8');
  if (data.length > maxCallBytes)
    throw new ApiError('payload_too_large', `data is ${data.length} bytes; the maximum per call is ${maxCallBytes}`, {
      maximum: maxCallBytes,
    });
  return { offset: body.offset, data };
}

/**
 * The one statement of how input is accepted. `offset` is what the caller had sent before this call:
 * past what was accepted is a gap (an earlier call of its was lost); a range already accepted is a
 * repeat, answered with the current offset and appended again never (so a retried call is safe); a
 * range that runs past it appends only its new bytes. Closed input takes no new bytes, and a second
 * eof changes nothing.
 */
export function planInput(state: InputState, call: InputCall, caps: InputCaps): InputPlan {
  const refuse = (code: ConstructorParameters<typeof ApiError>[0], message: string, details?: object): InputPlan => ({
    kind: 'refuse',
    error: new ApiError(code, message, details),
  });
  if (state.finished) return refuse('job_finished', 'the job has finished: its program reads no more input');
  if (!state.interactive)
    return refuse('not_interactive', 'the job was not submitted with "interactive": true: its stdin is closed');
  if (call.offset > state.accepted)
    return refuse('stdin_gap', `offset ${call.offset} is past the ${state.accepted} bytes accepted so far`, {
      offset: state.accepted,
    });
  if (!('data' in call)) {
    if (state.eof) return { kind: 'answer', accepted: state.accepted, eof: true };
    return { kind: 'close', accepted: state.accepted };
  }
  const end = call.offset + call.data.length;
  if (end <= state.accepted) return { kind: 'answer', accepted: state.accepted, eof: state.eof };
  if (state.eof) return refuse('stdin_closed', 'the input was closed (eof): no more can be sent');
  if (end > caps.maxBytes)
    return refuse('payload_too_large', `input would reach ${end} bytes; the maximum per job is ${caps.maxBytes}`, {
      maximum: caps.maxBytes,
    });
  if (state.calls >= caps.maxCalls)
    return refuse('payload_too_large', `the job has taken ${state.calls} calls of input, the most it may`, {
      maximum_calls: caps.maxCalls,
    });
  return { kind: 'append', data: call.data.subarray(state.accepted - call.offset), accepted: end };
}
