import {
  ApiError,
  type Judge0Field,
  type Judge0Input,
  judge0Outcome,
  type Lane,
  type RunResult,
  serializeJudge0,
  type Tenant,
} from '@sbx/shared';
import type { QueueEvents } from 'bullmq';
import type { JobService } from '../../services/jobs.js';
import { judge0Language, livePythonVersion } from './languages.js';
import { type Judge0Bounds, type Judge0LimitsConfig, judge0Bounds } from './limits.js';
import type { Judge0Records } from './records.js';
import { type Judge0Errors, parseSubmission } from './request.js';

/** Where one of our refusals of a valid-looking submission lands among Judge0's attributes. */
const FIELD_FOR_CODE: Partial<Record<string, string>> = {
  code_too_large: 'source_code',
  stdin_too_large: 'stdin',
  webhooks_not_configured: 'callback_url',
};

/** Our refusals that are about the submission become Judge0's 422; the others (queue, rate, Redis) stay errors. */
export function asJudge0Errors(err: unknown): Judge0Errors | null {
  if (!(err instanceof ApiError) || err.statusCode === 429 || err.statusCode >= 500) return null;
  const details = err.details as { field?: string } | undefined;
  const named = /^body\.(\w+)/.exec(err.message)?.[1];
  const field =
    FIELD_FOR_CODE[err.code] ??
    (named && named !== 'limits' ? named : undefined) ??
    (details?.field === 'limits.memory_mb'
      ? 'memory_limit'
      : details?.field?.startsWith('limits.')
        ? 'cpu_time_limit'
        : 'base');
  return { [field]: [err.message] };
}

export interface ShownSubmission {
  body: Record<string, unknown>;
  /** Our own verdict, for the x-sbx-status header; null while the job has none. */
  ourStatus: RunResult['status'] | null;
}

/** Judge0 submissions as our jobs: parsing, admission (the same as our routes), records, views. */
export class Judge0Submissions {
  constructor(
    private readonly jobs: JobService,
    private readonly records: Judge0Records,
    private readonly config: Judge0LimitsConfig & { webhooksConfigured: boolean; maxStdinBytes: number },
  ) {}

  bounds(tenant: Tenant): Judge0Bounds {
    return judge0Bounds(this.config, tenant);
  }

  /** Queues one submission; its token, or Judge0's 422 body. Queue and rate refusals are thrown. */
  async create(
    params: Record<string, unknown>,
    ctx: { base64: boolean; lane: Lane; tenant: Tenant; requestId: string },
  ): Promise<{ token: string; input: Judge0Input } | { errors: Judge0Errors }> {
    const parsed = parseSubmission(params, {
      bounds: this.bounds(ctx.tenant),
      base64: ctx.base64,
      callbacksAllowed: this.config.webhooksConfigured,
      maxInputBytes: this.config.maxStdinBytes,
      now: new Date(),
    });
    if (!parsed.ok) return { errors: parsed.errors };
    const { input, request } = parsed;
    const callback = input.callback_url ? { callback_url: input.callback_url } : {};
    const shape = {
      expected_output: input.expected_output,
      redirect_stderr_to_stdout: input.redirect_stderr_to_stdout,
    };
    try {
      const job = await this.jobs.submit({ ...request, ...callback }, ctx.requestId, ctx.tenant, ctx.lane, shape);
      const token = job.id as string;
      await this.records.save(token, input);
      return { token, input };
    } catch (err) {
      const errors = asJudge0Errors(err);
      if (errors) return { errors };
      throw err;
    }
  }

  waitFor(token: string, events: QueueEvents, waitMs: number, tenant: Tenant): Promise<RunResult | null> {
    return this.jobs.waitForResultById(token, events, waitMs, tenant);
  }

  /** The submission as Judge0 shows it; null when there is no such job for this tenant. */
  async show(
    token: string,
    tenant: Tenant,
    opts: { fields: readonly Judge0Field[]; base64: boolean },
  ): Promise<ShownSubmission | null> {
    const view = await this.jobs.view(token, tenant);
    if (!view) return null;
    const input: Partial<Judge0Input> = (await this.records.read(token)) ?? {};
    const outcome = judge0Outcome(view.state, view.result, {
      expected_output: input.expected_output ?? null,
      redirect_stderr_to_stdout: input.redirect_stderr_to_stdout ?? false,
    });
    // The live version only when asked for: it is a read of the workers' heartbeats.
    const version = opts.fields.includes('language') ? await livePythonVersion(this.jobs, tenant) : undefined;
    const language = judge0Language(input.language_id ?? 71, version);
    const body = serializeJudge0(
      { token, input, outcome, language: language && { id: language.id, name: language.name } },
      opts.fields,
      opts.base64,
    );
    return { body, ourStatus: view.result?.status ?? null };
  }
}
