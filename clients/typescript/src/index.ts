import type { JobAccepted, JobRequest, JobView, RunResult, ServiceInfo } from '@sbx/shared';
import { apiErrorOf, isRetriable, SbxApiError } from './errors.js';
import { type InputAnswer, type InputOptions, utf8Pieces } from './input.js';
import { JobEventStream, type StreamOptions, type StreamTransport } from './stream.js';

export { SbxApiError } from './errors.js';
export type { InputAnswer, InputOptions } from './input.js';
export { type SseMessage, SseParser } from './sse.js';
export { JobEventStream, type JobStreamEvent, type StreamOptions } from './stream.js';

/** How a submission survives a lost connection. */
export interface SubmitOptions {
  /** Sent as Idempotency-Key; a random one per call by default. */
  idempotencyKey?: string;
  /** Retries after a failed connection, queue_unavailable or not_replicated (default 2). */
  retries?: number;
}

/** The server's size maxima: `GET /info` `limits.code_bytes`, `limits.input_bytes` and `limits.interactive.max_input_call_bytes`. */
export interface SizeLimits {
  codeBytes?: number;
  inputBytes?: number;
  /** The most one `sendInput` call carries: longer input goes in several. */
  inputCallBytes?: number;
}

export interface SbxClientOptions {
  baseUrl: string;
  apiKey?: string;
  fetch?: typeof fetch;
  /** Known maxima make oversized code or input fail before it is sent; `info()` fills them in. */
  limits?: SizeLimits;
}

const utf8 = new TextEncoder();
/** UTF-8 bytes as the server counts them (a lone surrogate as U+FFFD, 3 bytes, as TextEncoder does too). */
const byteLength = (text: string | undefined) => (text ? utf8.encode(text).length : 0);
const argsLength = (args: string[] | undefined) => (args ?? []).reduce((n, a) => n + byteLength(a), 0);

/**
 * Refuses, as the server would (same code, same figures), code or input over the known maxima. Input is
 * what the server counts: stdin, args, and each test's stdin, args and expected output.
 */
export function checkSizes(req: JobRequest, limits: SizeLimits): void {
  const code = byteLength(req.code);
  if (limits.codeBytes !== undefined && code > limits.codeBytes)
    throw new SbxApiError(413, 'code_too_large', `code is ${code} bytes; the maximum is ${limits.codeBytes}`, {
      maximum: limits.codeBytes,
    });
  const input = (req.tests ?? []).reduce(
    (n, t) => n + byteLength(t.stdin) + argsLength(t.args) + byteLength(t.expected_output),
    byteLength(req.stdin) + argsLength(req.args),
  );
  if (limits.inputBytes !== undefined && input > limits.inputBytes)
    throw new SbxApiError(
      413,
      'stdin_too_large',
      `stdin, arguments and test data are ${input} bytes together; the maximum is ${limits.inputBytes}`,
      { maximum: limits.inputBytes },
    );
}

/**
 * A client for one sbx server. Types come from @sbx/shared, the server's own schemas.
 *
 *   const sbx = new SbxClient({ baseUrl: 'http://127.0.0.1:3000' });
 *   const { stdout } = await sbx.run({ code: 'print(2 + 2)' });
 */
export class SbxClient {
  private readonly fetch: typeof fetch;
  /** The size maxima this client checks before sending; empty until given or read by `info()`. */
  readonly limits: SizeLimits;
  /** Per interactive job, the input bytes the server has accepted from this client (sendInput). */
  private readonly inputOffsets = new Map<string, number>();

  constructor(private readonly opts: SbxClientOptions) {
    // Browsers throw "Illegal invocation" when fetch is called with another `this`.
    this.fetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.limits = { ...opts.limits };
  }

  private url(path: string): string {
    return `${this.opts.baseUrl.replace(/\/$/, '')}${path}`;
  }

  private headers(extra: Record<string, string>): Record<string, string> {
    return this.opts.apiKey ? { ...extra, authorization: `Bearer ${this.opts.apiKey}` } : { ...extra };
  }

  private async request<T>(
    method: string,
    path: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<{ status: number; data: T }> {
    const headers = this.headers(
      body !== undefined ? { ...extraHeaders, 'content-type': 'application/json' } : extraHeaders,
    );
    const res = await this.fetch(this.url(path), {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    if (!res.ok) throw await apiErrorOf(res);
    return { status: res.status, data: (await res.json().catch(() => ({}))) as T };
  }

  /**
   * POSTs under one Idempotency-Key, retrying when the connection fails (fetch rejects) or the queue
   * is briefly down: the server hands every retry the same job, so the program runs once. Any other
   * refusal, a 413 included, is final: the same body would only be refused again.
   */
  private async postOnce<T>(path: string, body: JobRequest, opts: SubmitOptions): Promise<{ status: number; data: T }> {
    checkSizes(body, this.limits);
    const headers = { 'idempotency-key': opts.idempotencyKey ?? crypto.randomUUID() };
    const retries = opts.retries ?? 2;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.request<T>('POST', path, body, headers);
      } catch (err) {
        // not_replicated: queued but unconfirmed; the same key confirms that job, never a second.
        const retriable =
          err instanceof SbxApiError
            ? err.code === 'queue_unavailable' || err.code === 'not_replicated'
            : err instanceof TypeError;
        if (!retriable || attempt >= retries) throw err;
      }
      await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** attempt, 2000)));
    }
  }

  /** Runs a program and resolves with its result (polling if the server answered 202). */
  async run(req: JobRequest, opts: SubmitOptions & { timeoutMs?: number } = {}): Promise<RunResult> {
    const { status, data } = await this.postOnce<RunResult | { id: string }>('/run', req, opts);
    if (status === 200) return data as RunResult;
    return this.wait(data.id, opts);
  }

  /** Queues a program and resolves with its job id. */
  async submit(req: JobRequest, opts: SubmitOptions = {}): Promise<string> {
    return (await this.enqueue(req, opts)).id;
  }

  /** Queues a program and resolves with where it stands: its lane, `position` (jobs that start before it) and `eta_seconds`. */
  async enqueue(req: JobRequest, opts: SubmitOptions = {}): Promise<JobAccepted> {
    return (await this.postOnce<JobAccepted>('/jobs', req, opts)).data;
  }

  /** The job's view. With `waitMs`, an unfinished job is answered when it completes or after that long (capped by the server). */
  async get(id: string, { waitMs = 0 } = {}): Promise<JobView> {
    const query = waitMs > 0 ? `?wait_ms=${Math.floor(waitMs)}` : '';
    return (await this.request<JobView>('GET', `/jobs/${encodeURIComponent(id)}${query}`)).data;
  }

  /** Waits until the job completes: long polls of up to 20 s; `pollIntervalMs` spaces requests answered early. */
  async wait(id: string, { timeoutMs = 60_000, pollIntervalMs = 100 } = {}): Promise<RunResult> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let view: JobView;
      try {
        view = await this.get(id, { waitMs: Math.max(0, Math.min(deadline - Date.now(), 20_000)) });
      } catch (err) {
        // The connection failed (the API restarting): the job lives in Redis, ask again until the deadline.
        if (!(err instanceof TypeError) || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, Math.max(pollIntervalMs, 250)));
        continue;
      }
      if (view.state === 'completed' && view.result) return view.result;
      if (Date.now() > deadline) throw new Error(`job ${id} still ${view.state} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, pollIntervalMs));
    }
  }

  /**
   * The runtime, and the limits, policies and comparators this key may use. The client keeps the code and
   * input maxima, and from then on refuses oversized code or input before sending it.
   */
  async info(): Promise<ServiceInfo> {
    const info = (await this.request<ServiceInfo>('GET', '/info')).data;
    this.limits.codeBytes = info.limits.code_bytes;
    this.limits.inputBytes = info.limits.input_bytes;
    // Interactive input's limits, on servers that have it (read loosely: older ones do not list them).
    const interactive = (info.limits as { interactive?: { max_input_call_bytes?: number } }).interactive;
    if (interactive?.max_input_call_bytes !== undefined) this.limits.inputCallBytes = interactive.max_input_call_bytes;
    return info;
  }

  /**
   * The job's live events as they happen, ending with its `result`:
   *
   *   for await (const e of sbx.stream(id)) if (e.type === 'stdout' && 'text' in e.data) write(e.data.text);
   *
   * Give a job id to watch a queued or finished job (from the start, or after `lastEventId`), or a
   * request to run it and watch it in one round trip (POST /run, retried under one Idempotency-Key like
   * `run`). A dropped connection is resumed with no gap or repeat; see JobEventStream.
   */
  stream(
    target: string | JobRequest,
    opts: StreamOptions & Pick<SubmitOptions, 'idempotencyKey'> = {},
  ): JobEventStream {
    const accept = { accept: 'text/event-stream' };
    const transport: StreamTransport = {
      events: (id, lastEventId, signal) =>
        this.fetch(this.url(`/jobs/${encodeURIComponent(id)}/events`), {
          headers: this.headers(lastEventId ? { ...accept, 'last-event-id': lastEventId } : accept),
          signal,
        }),
    };
    if (typeof target === 'string') return new JobEventStream(transport, target, opts);
    checkSizes(target, this.limits);
    const key = opts.idempotencyKey ?? crypto.randomUUID();
    transport.submit = (signal) =>
      this.fetch(this.url('/run'), {
        method: 'POST',
        headers: this.headers({ ...accept, 'content-type': 'application/json', 'idempotency-key': key }),
        body: JSON.stringify(target),
        signal,
      });
    return new JobEventStream(transport, undefined, opts);
  }

  /**
   * Appends `data` to the stdin of a job submitted with `interactive: true`; resolves with the input
   * bytes the server holds (after the request's own stdin). The client keeps that offset per job and
   * sends it with each call, so a call retried after a lost answer is never appended twice; give
   * `offset` to continue from elsewhere. Input over `limits.inputCallBytes` goes in several calls.
   */
  async sendInput(id: string, data: string, opts: InputOptions = {}): Promise<InputAnswer> {
    let at = opts.offset ?? this.inputOffsets.get(id) ?? 0;
    let answer: InputAnswer = { offset: at, eof: false };
    for (const piece of utf8Pieces(data, this.limits.inputCallBytes)) {
      answer = await this.postInput(id, { data: piece, offset: at }, opts.retries ?? 2);
      at = answer.offset;
      this.inputOffsets.set(id, at);
    }
    return answer;
  }

  /** Closes an interactive job's stdin: the program reads end of file once it has read what was sent. */
  async closeInput(id: string, opts: InputOptions = {}): Promise<InputAnswer> {
    const offset = opts.offset ?? this.inputOffsets.get(id) ?? 0;
    const answer = await this.postInput(id, { eof: true, offset }, opts.retries ?? 2);
    this.inputOffsets.delete(id);
    return answer;
  }

  /** POST /jobs/:id/stdin, retried when no answer came: the offset makes a repeat a no-op. */
  private async postInput(
    id: string,
    body: { data: string; offset: number } | { eof: true; offset: number },
    retries: number,
  ): Promise<InputAnswer> {
    for (let attempt = 0; ; attempt++) {
      try {
        return (await this.request<InputAnswer>('POST', `/jobs/${encodeURIComponent(id)}/stdin`, body)).data;
      } catch (err) {
        // The eof of an earlier try whose answer was lost is what closed it: done.
        if (attempt > 0 && 'eof' in body && err instanceof SbxApiError && err.code === 'stdin_closed')
          return { offset: body.offset, eof: true };
        if (!isRetriable(err) || attempt >= retries) throw err;
      }
      await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** attempt, 2000)));
    }
  }

  /** Cancels a job; resolves with the view (completed/cancelled, or still running while it stops). */
  async cancel(id: string): Promise<JobView | { id: string; state: 'running' }> {
    return (await this.request<JobView>('DELETE', `/jobs/${encodeURIComponent(id)}`)).data;
  }
}
