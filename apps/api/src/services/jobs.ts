import { randomUUID } from 'node:crypto';
import {
  ApiError,
  type Config,
  internalErrorResult,
  type JobData,
  type JobRequest,
  type JobView,
  type RunResult,
  redisKeys,
  resolveLimits,
} from '@sbx/shared';
import type { Job, Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';

type JobsConfig = Pick<
  Config,
  | 'prefix'
  | 'maxCodeBytes'
  | 'maxStdinBytes'
  | 'defaultTimeMs'
  | 'maxTimeMs'
  | 'defaultMemoryMb'
  | 'maxMemoryMb'
  | 'minMemoryMb'
  | 'allowedPolicies'
  | 'maxTests'
>;

/** Submitting and looking up jobs; the routes only translate HTTP. */
export class JobService {
  private readonly keys;

  constructor(
    private readonly queue: Queue<JobData>,
    private readonly redis: Redis,
    private readonly config: JobsConfig,
  ) {
    this.keys = redisKeys(config.prefix);
  }

  /** Checks sizes and limits, then enqueues. Throws ApiError for anything the caller must fix. */
  async submit(request: JobRequest, requestId: string): Promise<Job<JobData>> {
    const codeBytes = Buffer.byteLength(request.code, 'utf8');
    if (codeBytes > this.config.maxCodeBytes)
      throw new ApiError('code_too_large', `code is ${codeBytes} bytes; the maximum is ${this.config.maxCodeBytes}`, {
        maximum: this.config.maxCodeBytes,
      });
    const stdin = request.stdin ?? '';
    const testInput = (request.tests ?? []).reduce(
      (n, t) => n + Buffer.byteLength(t.stdin ?? '', 'utf8') + Buffer.byteLength(t.expected_output, 'utf8'),
      0,
    );
    const stdinBytes = Buffer.byteLength(stdin, 'utf8') + testInput;
    if (stdinBytes > this.config.maxStdinBytes)
      throw new ApiError(
        'stdin_too_large',
        `stdin and test data are ${stdinBytes} bytes together; the maximum is ${this.config.maxStdinBytes}`,
        { maximum: this.config.maxStdinBytes },
      );
    const limits = resolveLimits(request.limits, this.config);
    if (request.tests && request.tests.length > this.config.maxTests)
      throw new ApiError('validation_failed', `${request.tests.length} tests; the maximum is ${this.config.maxTests}`, {
        field: 'tests',
        maximum: this.config.maxTests,
      });
    // A test's own limits default to the job's and meet the same maxima.
    const tests = request.tests?.map((t) => ({
      stdin: t.stdin ?? '',
      expected_output: t.expected_output,
      limits: resolveLimits({ ...limits, ...t.limits }, this.config),
    }));
    const policy = request.policy ?? 'strict';
    if (!this.config.allowedPolicies.includes(policy))
      throw new ApiError(
        'policy_not_allowed',
        `policy "${policy}" is not allowed on this server; allowed: ${this.config.allowedPolicies.join(', ')}`,
        { allowed: this.config.allowedPolicies },
      );
    const id = randomUUID();
    const data: JobData = {
      code: request.code,
      stdin,
      limits,
      policy,
      ...(tests
        ? {
            tests,
            comparator: request.comparator ?? 'trailing_whitespace',
            float_tolerance: request.float_tolerance ?? 1e-6,
            stop_on_first_failure: request.stop_on_first_failure ?? false,
          }
        : {}),
      submitted_at: new Date().toISOString(),
      request_id: requestId,
    };
    try {
      return await this.queue.add('run', data, { jobId: id });
    } catch (err) {
      throw new ApiError('queue_unavailable', 'the job queue is unavailable; nothing was queued, try again', {
        cause: (err as Error).message,
      });
    }
  }

  /** Waits up to `waitMs` for the job to finish; null if it is still queued or running then. */
  async waitForResult(job: Job<JobData>, events: QueueEvents, waitMs: number): Promise<RunResult | null> {
    const id = job.id as string;
    try {
      await job.waitUntilFinished(events, waitMs);
    } catch (err) {
      // Either the wait timed out or the job failed for good; the view tells which.
      if (!/timed out/i.test((err as Error).message)) {
        const view = await this.view(id);
        if (view?.result) return view.result;
      }
      return null;
    }
    return this.result(id);
  }

  async result(id: string): Promise<RunResult | null> {
    const raw = await this.redis.get(this.keys.result(id));
    return raw ? (JSON.parse(raw) as RunResult) : null;
  }

  /** Where the job is. Null when no such job exists (or it has expired). */
  async view(id: string): Promise<JobView | null> {
    const result = await this.result(id);
    if (result) return { id, state: 'completed', result };
    const job = await this.queue.getJob(id);
    if (!job) return null;
    const state = await job.getState();
    switch (state) {
      case 'active':
        return { id, state: 'running' };
      case 'failed':
        return { id, state: 'completed', result: internalErrorResult(id, job.data, job.failedReason ?? 'unknown') };
      case 'completed':
        // Completed without a result: written between our two reads, or expired.
        return (await this.result(id).then((r) => (r ? { id, state: 'completed' as const, result: r } : null))) ?? null;
      case 'unknown':
        return null;
      default:
        return { id, state: 'queued' };
    }
  }
}
