import type { JobEventPayloads, JobEventType, JobView, RunResult } from '@sbx/shared';
import { apiErrorOf, isRetriable, SbxApiError } from './errors.js';
import { type SseMessage, SseParser } from './sse.js';

/**
 * One event of a job's live stream (docs/api.md, "Live output"): its type, its payload (the job's
 * view, as `GET /jobs/:id` answers it, for `result`) and its SSE id, which only a queued `status` lacks.
 */
export type JobStreamEvent = {
  [T in JobEventType]: { type: T; id?: string; data: T extends 'result' ? JobView : JobEventPayloads[T] };
}[JobEventType];

export interface StreamOptions {
  /** Start after this event (the id of one delivered earlier); from the job's first event without. */
  lastEventId?: string;
  /** Failed connections in a row, without a new event between them, before the last error is thrown (default 5). */
  retries?: number;
  /** A connection silent this long counts as dropped (default 45 000 ms; the server sends a comment every 15 s). */
  idleTimeoutMs?: number;
  /** Ends the stream: the loop over it throws the signal's reason, and the connection is closed. */
  signal?: AbortSignal;
}

/** How a stream reaches the API: the client's fetch, base URL and credentials. */
export interface StreamTransport {
  /** POST /run with `Accept: text/event-stream`, under one Idempotency-Key however often it is called. */
  submit?(signal: AbortSignal): Promise<Response>;
  /** GET /jobs/:id/events, after `lastEventId` when given. */
  events(jobId: string, lastEventId: string | undefined, signal: AbortSignal): Promise<Response>;
}

/** The SSE reconnection delay until the server names one (it sends `retry:` with its first event). */
export const DEFAULT_RETRY_MS = 1000;
/** Backoff doubles from the server's `retry:` per failed reconnection, up to this. */
export const MAX_RECONNECT_DELAY_MS = 30_000;

// Every type the shared package names, and no other: a type a newer server adds is skipped, not mistyped.
const KNOWN: Record<JobEventType, true> = {
  status: true,
  stdout: true,
  stderr: true,
  truncated: true,
  run: true,
  result: true,
};
const isKnown = (type: string): type is JobEventType => Object.hasOwn(KNOWN, type);

/** A message as a typed event; null for a type this client does not know or data that is not a JSON object. */
export function toEvent(message: SseMessage): JobStreamEvent | null {
  if (!isKnown(message.event)) return null;
  let data: unknown;
  try {
    data = JSON.parse(message.data);
  } catch {
    return null;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return null;
  return { type: message.event, data, ...(message.id ? { id: message.id } : {}) } as JobStreamEvent;
}

/** Waits, or rejects with the signal's reason once it aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** One connection's lifetime: aborted by the caller's signal, by silence past the idle timeout, or when done. */
class Connection {
  private readonly controller = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Whether the idle timeout ended it. */
  idle = false;
  /**
   * Rejects once it is aborted: reads race it, so an abort ends a read even through a fetch that
   * ignores its signal (a wrapper, a test double).
   */
  readonly ended: Promise<never>;

  constructor(
    private readonly outer: AbortSignal | undefined,
    private readonly idleMs: number,
  ) {
    this.ended = new Promise<never>((_, reject) => {
      this.controller.signal.addEventListener('abort', () => reject(this.controller.signal.reason), { once: true });
    });
    this.ended.catch(() => {});
    if (outer?.aborted) this.onAbort();
    else outer?.addEventListener('abort', this.onAbort, { once: true });
    this.touch();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  private readonly onAbort = () => this.controller.abort(this.outer?.reason);

  /** The caller holds an event: its time is not the connection's silence. */
  hold(): void {
    clearTimeout(this.timer);
  }

  /** Something arrived (or the caller is back for more): the idle clock starts again. */
  touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.idle = true;
      this.controller.abort(new TypeError(`no data for ${this.idleMs} ms`));
    }, this.idleMs);
  }

  close(): void {
    clearTimeout(this.timer);
    this.outer?.removeEventListener('abort', this.onAbort);
    this.controller.abort();
  }
}

const isEventStream = (res: Response) => (res.headers.get('content-type') ?? '').includes('text/event-stream');

/**
 * The live events of one job, an async iterable of JobStreamEvent (made by `SbxClient.stream`).
 *
 * It ends after the `result` event (`result` then holds the job's result, as `wait` resolves it), or at
 * once when the server answers 204: the job finished and `lastEventId` was already its last event
 * (`result` stays undefined; `wait(jobId)` reads it). A dropped connection, or a stream that ends before
 * its result (an API replica shutting down), is resumed from the last event delivered with
 * Last-Event-ID: no event is missed or repeated. Reconnections wait the server's `retry:` (1 s), doubled
 * per failure in a row up to 30 s, and at least any Retry-After; after `retries` failures in a row without
 * a new event the last error is thrown.
 *
 * A `run` event means a fault of ours started the job again: clear any output shown so far; the new
 * attempt's output follows from its start. `jobId` is known from the first event on (for a new
 * submission, from the stream's Location). Iterate it once.
 */
export class JobEventStream implements AsyncIterable<JobStreamEvent> {
  jobId: string | undefined;
  /** The id of the last event delivered: where a later stream can resume (`lastEventId` option). */
  lastEventId: string | undefined;
  /** The job's result, once its `result` event has been delivered. */
  result: RunResult | undefined;
  private submitting: boolean;
  private retryMs = DEFAULT_RETRY_MS;

  constructor(
    private readonly transport: StreamTransport,
    jobId: string | undefined,
    private readonly opts: StreamOptions = {},
  ) {
    this.jobId = jobId;
    this.lastEventId = opts.lastEventId;
    this.submitting = transport.submit !== undefined;
  }

  [Symbol.asyncIterator](): AsyncIterator<JobStreamEvent> {
    return this.events();
  }

  private async *events(): AsyncGenerator<JobStreamEvent, void, undefined> {
    const { signal, retries = 5, idleTimeoutMs = 45_000 } = this.opts;
    let failures = 0;
    for (;;) {
      const parser = new SseParser(this.lastEventId);
      const connection = new Connection(signal, idleTimeoutMs);
      let error: unknown = new TypeError('the event stream ended before its result');
      try {
        const res = await Promise.race([this.connect(connection.signal), connection.ended]);
        if (!res) return;
        for await (const event of this.read(res, parser, connection)) {
          if (event.id !== undefined) [failures, this.lastEventId] = [0, event.id];
          if (event.type === 'result') this.result = event.data.result;
          connection.hold();
          yield event;
          if (event.type === 'result') return;
          connection.touch();
        }
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (!connection.idle && !isRetriable(err)) throw err;
        error = err;
      } finally {
        connection.close();
      }
      this.retryMs = parser.retryMs ?? this.retryMs;
      failures += 1;
      if (failures > retries) throw error;
      await sleep(this.delay(failures, error), signal);
    }
  }

  private delay(failures: number, error: unknown): number {
    const backoff = Math.min(this.retryMs * 2 ** (failures - 1), MAX_RECONNECT_DELAY_MS);
    const after = error instanceof SbxApiError ? (error.retryAfterSeconds ?? 0) * 1000 : 0;
    return Math.max(backoff, after);
  }

  /** The response to read events from, or null when there are none to read (204). */
  private async connect(signal: AbortSignal): Promise<Response | null> {
    if (this.submitting && this.transport.submit) {
      const res = await this.transport.submit(signal);
      if (!res.ok) throw await apiErrorOf(res);
      // Queued: from here on, a resume is GET /jobs/:id/events, never a second submission.
      this.submitting = false;
      const location = res.headers.get('location') ?? '';
      if (location.startsWith('/jobs/')) this.jobId = decodeURIComponent(location.slice('/jobs/'.length));
      if (isEventStream(res)) return res;
      // Not one event to send (a replayed key whose result expired): the job's own answer.
      const answer = (await res.json().catch(() => ({}))) as { id?: string };
      this.jobId = answer.id ?? this.jobId;
    }
    if (this.jobId === undefined) throw new Error('no job to follow');
    const res = await this.transport.events(this.jobId, this.lastEventId, signal);
    if (res.status === 204) {
      await res.body?.cancel();
      return null;
    }
    if (!res.ok) throw await apiErrorOf(res);
    return res;
  }

  private async *read(res: Response, parser: SseParser, connection: Connection): AsyncGenerator<JobStreamEvent> {
    const reader = res.body?.getReader();
    if (!reader) return;
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await Promise.race([reader.read(), connection.ended]);
        if (done) return;
        connection.touch();
        for (const message of parser.feed(decoder.decode(value, { stream: true }))) {
          const event = toEvent(message);
          if (event) yield event;
        }
      }
    } finally {
      // Leaving early (the caller broke out, or the result came) releases the connection.
      reader.cancel().catch(() => {});
    }
  }
}
