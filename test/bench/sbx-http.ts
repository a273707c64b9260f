/** The service as a client sees it: real HTTP to the listening API, wall time measured here. */
import type { JobRequest, RunResult } from '@sbx/shared';

/** POST /jobs/batch takes at most this many jobs; GET /jobs?ids= answers at most this many. */
const BATCH_SUBMIT = 20;
const BATCH_POLL = 100;

const chunks = <T>(xs: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(xs.length / size) }, (_, i) => xs.slice(i * size, (i + 1) * size));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type PolledView = { id: string; state: string; result?: RunResult };

export class SbxHttp {
  /** `apiKey`: a tenant's bearer key, for a server with tenants. */
  constructor(
    private readonly base: string,
    private readonly apiKey?: string,
  ) {}

  private async request<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as T };
  }

  /** POST /run; returns the client's wall seconds with the result. */
  async run(job: JobRequest): Promise<{ seconds: number; result: RunResult }> {
    const started = performance.now();
    const res = await this.request<RunResult>('POST', '/run', job);
    const seconds = (performance.now() - started) / 1000;
    if (res.status !== 200) throw new Error(`POST /run answered ${res.status}: ${JSON.stringify(res.body)}`);
    return { seconds, result: res.body };
  }

  /** POST /jobs of one job; its id. */
  async submitOne(job: JobRequest): Promise<string> {
    const res = await this.request<{ id: string }>('POST', '/jobs', job);
    if (res.status !== 202) throw new Error(`POST /jobs answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body.id;
  }

  /** GET /jobs/:id's state. */
  async state(id: string): Promise<string> {
    return (await this.request<PolledView>('GET', `/jobs/${id}`)).body.state;
  }

  /** DELETE /jobs/:id (a queued job is cancelled, a running one stopped). */
  async cancel(id: string): Promise<void> {
    await this.request('DELETE', `/jobs/${id}`);
  }

  /** Queues every job through POST /jobs/batch, all batches at once: fewer requests than one POST per job. */
  async submit(jobs: readonly JobRequest[]): Promise<string[]> {
    const batches = await Promise.all(
      chunks(jobs, BATCH_SUBMIT).map(async (batch) => {
        const res = await this.request<{ jobs: { id: string }[] }>('POST', '/jobs/batch', { jobs: batch });
        if (res.status !== 202) throw new Error(`POST /jobs/batch answered ${res.status}: ${JSON.stringify(res.body)}`);
        return res.body.jobs.map((j) => j.id);
      }),
    );
    return batches.flat();
  }

  /**
   * Polls GET /jobs?ids= until every job has its result. Polling is sparse on purpose: each poll costs
   * the API and Redis CPU that the two cores' worth of sandboxes would otherwise get, and completion
   * times come from the results' finished_at, not from when a poll noticed.
   */
  async results(ids: readonly string[], pollMs = 1000, timeoutMs = 600_000): Promise<RunResult[]> {
    const done = new Map<string, RunResult>();
    const deadline = performance.now() + timeoutMs;
    while (done.size < ids.length) {
      if (performance.now() > deadline)
        throw new Error(`${ids.length - done.size} jobs unfinished after ${timeoutMs} ms`);
      await sleep(pollMs);
      const pending = ids.filter((id) => !done.has(id));
      for (const batch of chunks(pending, BATCH_POLL)) {
        const res = await this.request<{ jobs: PolledView[] }>('GET', `/jobs?ids=${batch.join(',')}`);
        if (res.status !== 200) throw new Error(`GET /jobs answered ${res.status}: ${JSON.stringify(res.body)}`);
        for (const view of res.body.jobs) {
          if (view.state === 'not_found') throw new Error(`job ${view.id} not found`);
          if (view.state === 'completed' && view.result) done.set(view.id, view.result);
        }
      }
    }
    return ids.map((id) => done.get(id) as RunResult);
  }
}
