import { type ApiConfig, DEFAULT_LANE, type Policy, type RunResult, type Tenant } from '@sbx/shared';
import type { QueueEvents } from 'bullmq';
import type { EventFeed, JobEvents } from '../../services/job-events.js';
import { defaultPolicy, tenantLimits } from '../../services/job-validation.js';
import type { JobService } from '../../services/jobs.js';
import { PistonError, type PistonJob, pistonJob } from './request.js';
import { type PistonRun, pistonRun } from './results.js';
import { type PistonRuntime, pistonRuntimes } from './runtimes.js';

/** POST /api/v2/execute's answer: Piston's shape (no `compile`: Python has no compile stage). */
export interface PistonAnswer {
  run: PistonRun;
  language: string;
  version: string;
}

export interface PistonExecutorDeps {
  jobs: JobService;
  events: JobEvents;
  config: ApiConfig;
  queueEvents: QueueEvents;
  /** SBX_RUN_WAIT_MS: how long an execute waits for its job. */
  waitMs: number;
}

/**
 * Piston programs expect a whole Python (open(), os, their own files beside them): the standard
 * profile when the server allows it, else the server's default.
 */
export const pistonPolicy = (allowed: readonly Policy[]): Policy =>
  allowed.includes('standard') ? 'standard' : defaultPolicy(allowed);

/**
 * Piston's requests as our jobs, through the same job service (admission, tenants, lanes, queue caps)
 * as POST /run; the routes and the WebSocket only translate.
 */
export class PistonExecutor {
  constructor(private readonly deps: PistonExecutorDeps) {}

  /** The runtimes this caller may use (GET /api/v2/runtimes). */
  async runtimes(tenant: Tenant): Promise<PistonRuntime[]> {
    return pistonRuntimes(await this.deps.jobs.info(tenant));
  }

  /** A Piston body checked and turned into our job request; PistonError for what Piston refuses. */
  async prepare(body: unknown, tenant: Tenant): Promise<PistonJob> {
    const { config } = this.deps;
    return pistonJob(
      body,
      await this.runtimes(tenant),
      tenantLimits(config, tenant),
      pistonPolicy(config.allowedPolicies),
    );
  }

  /** Queues the job in the interactive lane (unless the tenant may not use it); returns its id. */
  async submit(job: PistonJob, requestId: string, tenant: Tenant, interactive = false): Promise<string> {
    const request = interactive ? { ...job.request, interactive: true } : job.request;
    const queued = await this.deps.jobs.submit(request, requestId, tenant, DEFAULT_LANE.run);
    return queued.id as string;
  }

  /** Runs a prepared job and answers as Piston does; our result too, for the headers. */
  async execute(
    job: PistonJob,
    requestId: string,
    tenant: Tenant,
  ): Promise<{ id: string; result: RunResult; answer: PistonAnswer }> {
    const id = await this.submit(job, requestId, tenant);
    const { jobs, queueEvents, waitMs } = this.deps;
    const result = await jobs.waitForResultById(id, queueEvents, waitMs, tenant);
    if (!result)
      throw new PistonError(
        500,
        `job ${id} has not finished within ${waitMs} ms; it was not lost: GET /jobs/${id} has its result`,
      );
    return { id, result, answer: this.answer(job, result, await this.output(id, tenant)) };
  }

  /** A job's live events, for the WebSocket (null: not this tenant's job). */
  feed(id: string, tenant: Tenant): Promise<EventFeed | null> {
    return this.deps.events.open(id, tenant, undefined);
  }

  /** Stops a job (a WebSocket's signal, or its client gone). */
  async cancel(id: string, tenant: Tenant): Promise<void> {
    await this.deps.jobs.cancel(id, tenant);
  }

  /** Our result as Piston's answer; internal_error is Piston's 500. */
  answer(job: PistonJob, result: RunResult, output: string | null): PistonAnswer {
    if (result.status === 'internal_error') throw new PistonError(500, result.message ?? 'internal error');
    return { run: pistonRun(result, output), language: job.runtime.language, version: job.runtime.version };
  }

  /**
   * Both streams in the order the program wrote them, from the job's live events; null when they do
   * not hold all of it (cut at the event budget, or base64), for stdout then stderr instead.
   */
  async output(id: string, tenant: Tenant): Promise<string | null> {
    const feed = await this.deps.events.open(id, tenant, undefined).catch(() => null);
    if (!feed || feed.done) return null;
    const abort = new AbortController();
    let out = '';
    try {
      for await (const message of feed.messages(abort.signal)) {
        if (message.event === 'run') out = '';
        else if (message.event === 'truncated') return null;
        else if (message.event === 'result') return out;
        else if (message.event === 'stdout' || message.event === 'stderr') {
          const chunk = message.data as { text?: string };
          if (typeof chunk.text !== 'string') return null;
          out += chunk.text;
        }
      }
    } finally {
      abort.abort();
    }
    return null;
  }
}
