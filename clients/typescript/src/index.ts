import type { ErrorBody, JobRequest, JobView, RunResult, ServiceInfo } from '@sbx/shared';

/** The API refused a request; `code` is the stable error code from the server. */
export class SbxApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'SbxApiError';
  }
}

/** How a submission survives a lost connection. */
export interface SubmitOptions {
  /** Sent as Idempotency-Key; a random one per call by default. */
  idempotencyKey?: string;
  /** Retries after a failed connection or queue_unavailable (default 2). */
  retries?: number;
}

export interface SbxClientOptions {
  baseUrl: string;
  apiKey?: string;
  fetch?: typeof fetch;
}

/**
 * A client for one sbx server. Types come from @sbx/shared, the server's own schemas.
 *
 *   const sbx = new SbxClient({ baseUrl: 'http://127.0.0.1:3000' });
 *   const { stdout } = await sbx.run({ code: 'print(2 + 2)' });
 */
export class SbxClient {
  private readonly fetch: typeof fetch;

  constructor(private readonly opts: SbxClientOptions) {
    // Browsers throw "Illegal invocation" when fetch is called with another `this`.
    this.fetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
  }

  private async request<T>(
    method: string,
    path: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<{ status: number; data: T }> {
    const headers: Record<string, string> = { ...extraHeaders };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.opts.apiKey) headers.authorization = `Bearer ${this.opts.apiKey}`;
    const res = await this.fetch(`${this.opts.baseUrl.replace(/\/$/, '')}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const data = (await res.json().catch(() => ({}))) as T | ErrorBody;
    if (!res.ok) {
      const err = data as Partial<ErrorBody>;
      throw new SbxApiError(res.status, err.code ?? 'http_error', err.message ?? res.statusText, err.details);
    }
    return { status: res.status, data: data as T };
  }

  /**
   * POSTs under one Idempotency-Key, retrying when the connection fails (fetch rejects) or the queue
   * is briefly down: the server hands every retry the same job, so the program runs once.
   */
  private async postOnce<T>(path: string, body: unknown, opts: SubmitOptions): Promise<{ status: number; data: T }> {
    const headers = { 'idempotency-key': opts.idempotencyKey ?? crypto.randomUUID() };
    const retries = opts.retries ?? 2;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.request<T>('POST', path, body, headers);
      } catch (err) {
        const retriable = err instanceof SbxApiError ? err.code === 'queue_unavailable' : err instanceof TypeError;
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
    return (await this.postOnce<{ id: string }>('/jobs', req, opts)).data.id;
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
      const view = await this.get(id, { waitMs: Math.max(0, Math.min(deadline - Date.now(), 20_000)) });
      if (view.state === 'completed' && view.result) return view.result;
      if (Date.now() > deadline) throw new Error(`job ${id} still ${view.state} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, pollIntervalMs));
    }
  }

  /** The runtime, and the limits, policies and comparators this key may use. */
  async info(): Promise<ServiceInfo> {
    return (await this.request<ServiceInfo>('GET', '/info')).data;
  }

  /** Cancels a job; resolves with the view (completed/cancelled, or still running while it stops). */
  async cancel(id: string): Promise<JobView | { id: string; state: 'running' }> {
    return (await this.request<JobView>('DELETE', `/jobs/${encodeURIComponent(id)}`)).data;
  }
}
