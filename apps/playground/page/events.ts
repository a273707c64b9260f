/**
 * Follows GET /jobs/:id/events to the job's `result`, through dropped connections: each reconnect
 * sends the last event id seen (`Last-Event-ID`), so the server resumes right after it, with no gap
 * and no repeat. A partial event cut off by a drop is discarded with its connection's parser.
 */
import { type Api, ApiFailure, failureOf } from './api.js';
import { SseParser } from './sse.js';
import type { JobEventType } from './wire.js';

/** One event with its JSON payload parsed. */
export interface JobStreamEvent {
  type: JobEventType;
  data: unknown;
  id: string | undefined;
}

export interface FollowOptions {
  onEvent: (event: JobStreamEvent) => void;
  /** Called before each reconnect, with the number of failed connections so far. */
  onReconnect?: (failures: number, why: string) => void;
  signal: AbortSignal;
  /** Waits between reconnects; the first is short, then doubling to `maxDelayMs`. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Give up after this many connections in a row that brought no event. */
  maxFailures?: number;
}

const KNOWN = new Set<string>(['status', 'stdout', 'stderr', 'truncated', 'run', 'result']);

/**
 * Resolves `result` once the result event arrived, or `finished` when the server answered 204 (the
 * job ended and this viewer has everything: the caller reads GET /jobs/:id). Rejects with an
 * ApiFailure for a refusal (401, 404) and when the connection keeps failing.
 */
export async function followJob(api: Api, jobId: string, options: FollowOptions): Promise<'result' | 'finished'> {
  const path = `jobs/${encodeURIComponent(jobId)}/events`;
  let lastId: string | undefined;
  let failures = 0;
  for (;;) {
    const parser = new SseParser(lastId);
    let progressed = false;
    let why = 'the stream ended before the result';
    try {
      const outcome = await connect(api, path, parser, options, () => {
        progressed = true;
      });
      if (outcome !== 'ended') return outcome;
    } catch (err) {
      if (options.signal.aborted) throw err;
      // A refusal (no key, no such job) stays one; a timeout or too many viewers at once may pass.
      if (err instanceof ApiFailure && err.status >= 400 && err.status < 500 && ![408, 429].includes(err.status))
        throw err;
      why = err instanceof Error ? err.message : String(err);
    }
    lastId = parser.lastEventId;
    failures = progressed ? 1 : failures + 1;
    if (failures > (options.maxFailures ?? 8)) throw new ApiFailure(0, 'network', `live output lost: ${why}`);
    options.onReconnect?.(failures, why);
    const base = parser.retryMs ?? options.baseDelayMs ?? 250;
    await sleep(Math.min(base * 2 ** (failures - 1), options.maxDelayMs ?? 5000), options.signal);
  }
}

/** The server sends a comment every 15 s on an idle stream: this long with no byte at all is a dead connection. */
const SILENCE_MS = 40_000;

/** One connection: `ended` when it closed (or went silent) before the result. */
async function connect(
  api: Api,
  path: string,
  parser: SseParser,
  options: FollowOptions,
  progressed: () => void,
): Promise<'result' | 'finished' | 'ended'> {
  const headers: Record<string, string> = { accept: 'text/event-stream', ...api.authHeaders() };
  if (parser.lastEventId) headers['last-event-id'] = parser.lastEventId;
  // One signal for this connection: the run's (Stop, page closed) or silence ends it.
  const silence = new AbortController();
  const stopped = () => silence.abort(options.signal.reason);
  options.signal.addEventListener('abort', stopped, { once: true });
  const signal = silence.signal;
  let timer = globalThis.setTimeout(() => silence.abort(new Error('no data for 40 s')), SILENCE_MS);
  const heard = () => {
    globalThis.clearTimeout(timer);
    timer = globalThis.setTimeout(() => silence.abort(new Error('no data for 40 s')), SILENCE_MS);
  };
  try {
    const res = await api.fetch(api.url(path), { headers, signal });
    if (res.status === 204) return 'finished';
    if (!res.ok) throw failureOf(res.status, await res.text());
    if (!res.body) throw new Error('the response has no body');
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return 'ended';
      heard();
      for (const message of parser.push(value)) {
        if (!KNOWN.has(message.event)) continue;
        progressed();
        options.onEvent({ type: message.event as JobEventType, data: parse(message.data), id: message.lastEventId });
        if (message.event === 'result') return 'result';
      }
    }
  } finally {
    globalThis.clearTimeout(timer);
    options.signal.removeEventListener('abort', stopped);
    // Ends the response whatever happened: after a result the server closes it too, but a viewer
    // that stopped reading must not hold the connection.
    silence.abort(new Error('done'));
  }
}

function parse(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return null;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = globalThis.setTimeout(done, ms);
    function done() {
      signal.removeEventListener('abort', abort);
      resolve();
    }
    function abort() {
      globalThis.clearTimeout(timer);
      reject(signal.reason);
    }
    signal.addEventListener('abort', abort, { once: true });
  });
}
