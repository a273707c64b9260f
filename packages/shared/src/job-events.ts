import type { Lane } from './lanes.js';

/**
 * A job's live events: the one home of their Redis Stream's key, its bounds, the event types and
 * their wire shape. The worker writes the stream (output as it arrives), the result store adds the
 * `result` marker, and any API replica reads it for `GET /jobs/:id/events` (docs/api.md, Live output).
 */

/** Every event type a viewer can receive, in no particular order. */
export const JOB_EVENT_TYPES = ['status', 'stdout', 'stderr', 'truncated', 'run', 'result'] as const;
export type JobEventType = (typeof JOB_EVENT_TYPES)[number];

/** A piece of the program's output: UTF-8 text, or base64 of the exact bytes for base64 jobs. */
export type OutputChunk = ({ text: string } | { base64: string }) & {
  /** The test case it belongs to, in a test-case job. */
  test?: number;
};

export type StatusPayload =
  | { state: 'running'; attempt: number }
  | { state: 'queued'; position: number | null; eta_seconds: number | null; lane?: Lane };

/** Payloads as they travel, by type. The result's is the job's view; in the stream it is a marker. */
export interface JobEventPayloads {
  status: StatusPayload;
  stdout: OutputChunk;
  stderr: OutputChunk;
  /** The output cap was reached (or, with `reason: "events"`, the run's event budget): nothing more of this run streams. */
  truncated: { limit_bytes: number; reason?: 'events' };
  /** A fault of ours started the job again: what the viewer has of the earlier run is void. */
  run: { attempt: number };
  /** In the stream: `{}`. The API sends the job's view (`GET /jobs/:id`) in its place. */
  result: Record<string, never>;
}

/** One event as the worker writes it, before the stream gives it an id. */
export type JobEvent = { [T in JobEventType]: { type: T; data: JobEventPayloads[T] } }[JobEventType];

/** One event read back, with its stream id (which is also its SSE id). */
export type StoredJobEvent = JobEvent & { id: string };

/** Field names of a stream entry: the type, and the payload's JSON. */
export const EVENT_FIELDS = { type: 't', data: 'd' } as const;

/** The stream of one job. Not BullMQ's events stream: that one is the queue's, shared and trimmed under load. */
export const jobEventsKey = (prefix: string, jobId: string): string => `${prefix}:events:${jobId}`;

/**
 * A backstop on entries per stream (XADD MAXLEN ~). The worker's coalescing and per-run event
 * budget keep a real run far below it; it exists so no run can grow a stream without bound.
 */
export const JOB_EVENTS_MAXLEN = 20_000;

/**
 * How long a stream lives once the job's result is stored. The result holds the same output, so the
 * stream is cut to this rather than kept for the result's TTL; later viewers get events rebuilt from
 * the result.
 */
export const EVENTS_AFTER_RESULT_SECONDS = 600;

/** The stream entry's field values for an event: [type, payload JSON]. */
export function encodeJobEvent(event: JobEvent): [string, string] {
  return [event.type, JSON.stringify(event.data)];
}

const isEventType = (t: string): t is JobEventType => (JOB_EVENT_TYPES as readonly string[]).includes(t);

/**
 * An entry as XRANGE/XREAD return it (`[id, [field, value, ...]]`), or null for one this reader does
 * not know (a newer writer's type, a payload that is not JSON): skipped, never fatal to a viewer.
 */
export function decodeJobEvent(id: string, fields: string[]): StoredJobEvent | null {
  let type: string | undefined;
  let raw: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === EVENT_FIELDS.type) type = fields[i + 1];
    else if (fields[i] === EVENT_FIELDS.data) raw = fields[i + 1];
  }
  if (type === undefined || raw === undefined || !isEventType(type)) return null;
  try {
    const data: unknown = JSON.parse(raw);
    if (typeof data !== 'object' || data === null) return null;
    return { id, type, data } as StoredJobEvent;
  } catch {
    return null;
  }
}

/** A stream entry id, `<ms>-<seq>`. */
const STREAM_ID = /^(\d{1,20})-(\d{1,20})$/;

/**
 * A client's Last-Event-ID as a stream id to read after, or null for none or one that is not an id
 * of ours (then the client gets everything from the start: duplicates are better than a gap).
 */
export function parseEventId(raw: string | null | undefined): { ms: bigint; seq: bigint } | null {
  const m = STREAM_ID.exec(raw?.trim() ?? '');
  return m ? { ms: BigInt(m[1] as string), seq: BigInt(m[2] as string) } : null;
}

/** Orders two stream ids: negative, zero or positive, as for sort. */
export function compareEventIds(a: string, b: string): number {
  const x = parseEventId(a);
  const y = parseEventId(b);
  if (!x || !y) throw new Error(`not stream ids: ${a}, ${b}`);
  if (x.ms !== y.ms) return x.ms < y.ms ? -1 : 1;
  return x.seq === y.seq ? 0 : x.seq < y.seq ? -1 : 1;
}

/** The id right after `id` in the same millisecond: for an event the reader makes after the stream's last. */
export function nextEventId(id: string): string {
  const parsed = parseEventId(id);
  if (!parsed) throw new Error(`not a stream id: ${id}`);
  return `${parsed.ms}-${parsed.seq + 1n}`;
}
