import { createHash } from 'node:crypto';
import {
  ApiError,
  COMPARATORS,
  type Config,
  cancelledResult,
  defaultEnvironment,
  type Environment,
  etaSeconds,
  FairQueue,
  internalErrorResult,
  isJobId,
  isRedisOomError,
  type JobData,
  type JobRequest,
  type JobView,
  type Lane,
  MAX_ARG_CHARS,
  MAX_ARGS,
  newJobId,
  type Policy,
  type ReplicaFence,
  ReplicationShortError,
  RUNTIME,
  type RunResult,
  redisKeys,
  resolveLane,
  resolveLimits,
  retryAfterSeconds,
  type ServiceInfo,
  StorageLedger,
  storageFullError,
  type Tenant,
  writePastLimit,
} from '@sbx/shared';
import type { Job, Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { builtEnvironments, environmentsOf, liveWorkers, runtimesOf } from './workers.js';

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
  | 'environments'
  | 'maxArtifacts'
  | 'maxArtifactBytes'
  | 'maxTests'
  | 'maxOutputBytes'
  | 'resultTtlSeconds'
  | 'workerStaleMs'
  | 'maxQueued'
  | 'interactiveStreak'
>;

/** Redis refusing for memory is storage_full (it answers, and says why); any other trouble is queue_unavailable. */
const unavailable = (err: unknown) =>
  isRedisOomError(err)
    ? storageFullError('nothing was queued')
    : new ApiError('queue_unavailable', 'the job queue is unavailable; nothing was queued, try again', {
        cause: (err as Error).message,
      });

/** Redis trouble as the 503 that says nothing was queued; anything else as it was. */
async function orUnavailable<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    throw unavailable(err);
  }
}

/** KEYS[1] an idempotency slot; ARGV: the claim it must still hold, the new claim, TTL. 1 when replaced. */
const TAKE_OVER_KEY = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
`;

interface Webhooks {
  enqueue(jobId: string, url: string, payload: unknown, signer?: string): Promise<void>;
  redeliver(jobId: string): Promise<boolean>;
  state(jobId: string): Promise<JobView['webhook'] | null>;
}

const IDEMPOTENCY_TTL_SECONDS = 86_400;
/** How long the live workers' environments are trusted before submit reads them again. */
const BUILT_CACHE_MS = 2000;
/** How long the fleet's start rate is reused for wait estimates. */
const RATE_CACHE_MS = 1000;
/** How long a replayed key waits for the job its first request is still queueing. */
const JOB_APPEAR_MS = 2000;

/** Submitting and looking up jobs; the routes only translate HTTP. */
export class JobService {
  private readonly keys;
  private readonly fair: FairQueue;
  private readonly ledger: StorageLedger;
  private built: { at: number; names: Set<Environment> | null } | null = null;
  private rateCache: { at: number; value: number | null } | null = null;

  constructor(
    private readonly queue: Queue<JobData>,
    private readonly redis: Redis,
    private readonly config: JobsConfig,
    private readonly webhooks: Webhooks | null = null,
    /** SBX_REDIS_WAIT_REPLICAS: no 202 before a replica holds the job. */
    private readonly fence: ReplicaFence | null = null,
  ) {
    this.keys = redisKeys(config.prefix);
    this.fair = new FairQueue(redis, config.prefix, queue.name, config.interactiveStreak);
    this.ledger = new StorageLedger(redis, config.prefix, config.resultTtlSeconds);
  }

  /** Waiting jobs per lane, for the metrics. */
  depth(): Promise<Record<Lane, number>> {
    return this.fair.depth();
  }

  /** The tenant's maxima apply on top of the server's (loadTenants already took the minimum). */
  private boundsFor(tenant: Tenant) {
    return {
      ...this.config,
      maxTimeMs: tenant.maxTimeMs,
      maxMemoryMb: tenant.maxMemoryMb,
      defaultTimeMs: Math.min(this.config.defaultTimeMs, tenant.maxTimeMs),
      defaultMemoryMb: Math.min(this.config.defaultMemoryMb, tenant.maxMemoryMb),
    };
  }

  /** The environments the server serves, narrowed to the tenant's allow-list where it has one. */
  private environmentsFor(tenant: Tenant): Environment[] {
    return this.config.environments.filter((e) => !tenant.environments || tenant.environments.includes(e));
  }

  /** strict unless the operator allows only laxer profiles: a job that names none must still run. */
  private get defaultPolicy(): Policy {
    const allowed = this.config.allowedPolicies;
    return allowed.includes('strict') ? 'strict' : (allowed[0] ?? 'strict');
  }

  /** What GET /info tells a tenant: the same bounds prepare() enforces on its jobs, and what the workers run on. */
  async info(tenant: Tenant): Promise<ServiceInfo> {
    const b = this.boundsFor(tenant);
    // The rest comes from config: a Redis outage leaves the runtimes unknown, not the answer failed.
    const workers = await liveWorkers(this.redis, this.config.prefix, this.config.workerStaleMs).catch(() => []);
    return {
      runtime: { ...RUNTIME },
      sandbox: runtimesOf(workers),
      limits: {
        time_ms: { default: b.defaultTimeMs, max: b.maxTimeMs },
        memory_mb: { default: b.defaultMemoryMb, min: b.minMemoryMb, max: b.maxMemoryMb },
        code_bytes: b.maxCodeBytes,
        input_bytes: b.maxStdinBytes,
        output_bytes: b.maxOutputBytes,
        tests: b.maxTests,
        artifacts: b.maxArtifacts,
        artifact_bytes: b.maxArtifactBytes,
        args: MAX_ARGS,
        arg_chars: MAX_ARG_CHARS,
        queued: tenant.maxQueued,
        queued_total: this.config.maxQueued,
        running: tenant.maxRunning,
        stored_bytes: tenant.maxStoredBytes,
      },
      lanes: [...tenant.lanes],
      weight: tenant.weight,
      environments: environmentsOf(workers, this.environmentsFor(tenant), defaultEnvironment(this.config)),
      policies: [...this.config.allowedPolicies],
      default_policy: this.defaultPolicy,
      comparators: [...COMPARATORS],
    };
  }

  /** Checks sizes, limits and policy and builds the queue entry. Throws ApiError for anything the caller must fix. */
  prepare(request: JobRequest, requestId: string, tenant: Tenant, routeLane: Lane): { id: string; data: JobData } {
    const bounds = this.boundsFor(tenant);
    const codeBytes = Buffer.byteLength(request.code, 'utf8');
    if (codeBytes > this.config.maxCodeBytes)
      throw new ApiError('code_too_large', `code is ${codeBytes} bytes; the maximum is ${this.config.maxCodeBytes}`, {
        maximum: this.config.maxCodeBytes,
      });
    const stdin = request.stdin ?? '';
    const argBytes = (args: string[] | undefined) => (args ?? []).reduce((n, a) => n + Buffer.byteLength(a, 'utf8'), 0);
    const testInput = (request.tests ?? []).reduce(
      (n, t) =>
        n + Buffer.byteLength(t.stdin ?? '', 'utf8') + argBytes(t.args) + Buffer.byteLength(t.expected_output, 'utf8'),
      0,
    );
    const stdinBytes = Buffer.byteLength(stdin, 'utf8') + argBytes(request.args) + testInput;
    if (stdinBytes > this.config.maxStdinBytes)
      throw new ApiError(
        'stdin_too_large',
        `stdin, arguments and test data are ${stdinBytes} bytes together; the maximum is ${this.config.maxStdinBytes}`,
        { maximum: this.config.maxStdinBytes },
      );
    const limits = resolveLimits(request.limits, bounds);
    if (request.tests && request.tests.length > this.config.maxTests)
      throw new ApiError('validation_failed', `${request.tests.length} tests; the maximum is ${this.config.maxTests}`, {
        field: 'tests',
        maximum: this.config.maxTests,
      });
    // A test's own limits default to the job's and meet the same maxima.
    const tests = request.tests?.map((t) => {
      const args = t.args ?? request.args;
      return {
        stdin: t.stdin ?? '',
        ...(args ? { args } : {}),
        expected_output: t.expected_output,
        limits: resolveLimits({ ...limits, ...t.limits }, bounds),
      };
    });
    if (request.callback_url !== undefined) {
      if (!this.webhooks)
        throw new ApiError('webhooks_not_configured', 'this server has no webhook signing secret (SBX_WEBHOOK_SECRET)');
      let url: URL | null = null;
      try {
        url = new URL(request.callback_url);
      } catch {
        url = null;
      }
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password)
        throw new ApiError('validation_failed', 'body.callback_url must be an http(s) URL without credentials');
    }
    const policy = request.policy ?? this.defaultPolicy;
    if (!this.config.allowedPolicies.includes(policy))
      throw new ApiError(
        'policy_not_allowed',
        `policy "${policy}" is not allowed on this server; allowed: ${this.config.allowedPolicies.join(', ')}`,
        { allowed: this.config.allowedPolicies },
      );
    const environment = (request.environment ?? defaultEnvironment(this.config)) as Environment;
    const offered = this.environmentsFor(tenant);
    if (!offered.includes(environment))
      throw new ApiError(
        'environment_not_available',
        `environment "${environment}" is not available to this caller; available: ${offered.join(', ') || 'none'}`,
        { environment, available: offered },
      );
    const lane = resolveLane(request.lane, routeLane, tenant.lanes);
    if (!lane)
      throw new ApiError(
        'lane_not_allowed',
        `lane "${request.lane}" is not available to this caller; available: ${tenant.lanes.join(', ')}`,
        { lane: request.lane, available: tenant.lanes },
      );
    const id = newJobId();
    const data: JobData = {
      code: request.code,
      stdin,
      ...(request.args ? { args: request.args } : {}),
      ...(request.output_encoding === 'base64' ? { output_encoding: 'base64' as const } : {}),
      limits,
      policy,
      environment,
      ...(request.figure_format === 'svg' ? { figure_format: 'svg' as const } : {}),
      ...(tests
        ? {
            tests,
            comparator: request.comparator ?? 'trailing_whitespace',
            float_tolerance: request.float_tolerance ?? 1e-6,
            stop_on_first_failure: request.stop_on_first_failure ?? false,
          }
        : {}),
      ...(request.callback_url ? { callback_url: request.callback_url } : {}),
      tenant_id: tenant.id,
      lane,
      ...(tenant.maxRunning > 0 ? { max_running: tenant.maxRunning } : {}),
      submitted_at: new Date().toISOString(),
      request_id: requestId,
    };
    return { id, data };
  }

  async submit(request: JobRequest, requestId: string, tenant: Tenant, routeLane: Lane): Promise<Job<JobData>> {
    const [job] = await this.enqueue(tenant, [this.prepare(request, requestId, tenant, routeLane)]);
    return job as Job<JobData>;
  }

  /**
   * Same key and same body: the same job. Same key, another body: 409. The key is claimed
   * atomically (SET NX) before the job is queued, and released if queueing fails.
   */
  async submitIdempotent(
    request: JobRequest,
    requestId: string,
    tenant: Tenant,
    key: string,
    routeLane: Lane,
  ): Promise<{ id: string; replay: boolean }> {
    if (!/^[\x21-\x7e]{1,255}$/.test(key))
      throw new ApiError('validation_failed', 'Idempotency-Key must be 1-255 visible ASCII characters');
    const bodyHash = createHash('sha256').update(JSON.stringify(request)).digest('hex');
    const prepared = this.prepare(request, requestId, tenant, routeLane);
    const { id } = prepared;
    // Keys are per tenant: two tenants may pick the same key without meeting.
    const slot = this.keys.idempotency(createHash('sha256').update(`${tenant.id}\n${key}`).digest('hex'));
    const claim = JSON.stringify({ id, bodyHash });
    const claimed = await orUnavailable(this.redis.set(slot, claim, 'EX', IDEMPOTENCY_TTL_SECONDS, 'NX'));
    if (!claimed) {
      const raw = await orUnavailable(this.redis.get(slot));
      const previous = JSON.parse(raw ?? '{}') as { id?: string; bodyHash?: string };
      if (previous.bodyHash !== bodyHash || !previous.id)
        throw new ApiError('idempotency_conflict', 'this Idempotency-Key was used with a different request body');
      if (await this.queuedOrDone(previous.id)) {
        // A retry after not_replicated lands here: it is answered only once a replica has the job.
        await this.confirmReplicated();
        return { id: previous.id, replay: true };
      }
      // The request that claimed the key never queued its job: Redis failed between the two (a
      // failover) and the key could not be released. Answering its id would be a 202 for nothing.
      const taken = await orUnavailable(
        this.redis.eval(TAKE_OVER_KEY, 1, slot, raw ?? '', claim, IDEMPOTENCY_TTL_SECONDS),
      );
      if (taken !== 1) throw unavailable(new Error('another request took this Idempotency-Key over meanwhile'));
    }
    try {
      await this.enqueue(tenant, [prepared]);
    } catch (err) {
      // Queued but unconfirmed: the key must keep naming that job, or a retry would queue a second one.
      if (!(err instanceof ApiError && err.code === 'not_replicated')) await this.redis.del(slot).catch(() => {});
      throw err;
    }
    return { id, replay: false };
  }

  /** Whether a job was queued under this id (or finished); false once JOB_APPEAR_MS passed with neither. */
  private async queuedOrDone(id: string): Promise<boolean> {
    // The request holding the key may be queueing the job right now.
    const appearBy = Date.now() + JOB_APPEAR_MS;
    for (;;) {
      if ((await orUnavailable(this.result(id))) || (await orUnavailable(this.queue.getJob(id)))) return true;
      if (Date.now() >= appearBy) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** All or nothing: every request is checked before any is queued. */
  async submitBatch(requests: JobRequest[], requestId: string, tenant: Tenant): Promise<string[]> {
    const prepared = requests.map((r, index) => {
      try {
        return this.prepare(r, requestId, tenant, 'batch');
      } catch (err) {
        if (err instanceof ApiError)
          throw new ApiError(err.code, `jobs[${index}]: ${err.message}`, { index, ...(err.details as object) });
        throw err;
      }
    });
    await this.enqueue(tenant, prepared);
    return prepared.map((p) => p.id);
  }

  /**
   * Reserves the jobs' places in the fair order (fair-queue.ts), atomically for each lane of the
   * batch, queues them with their priorities, and records ownership. The tenant's cap full is a 429,
   * the whole queue's a 503, both with a Retry-After from the recent throughput; Redis trouble is a
   * 503 and nothing stays reserved.
   */
  private async enqueue(tenant: Tenant, prepared: { id: string; data: JobData }[]): Promise<Job<JobData>[]> {
    await this.refuseUnbuilt(prepared.map((p) => p.data.environment ?? 'python'));
    await this.refuseOverQuota(tenant);
    const ids = prepared.map((p) => p.id);
    const priority = new Map<string, number>();
    try {
      for (const lane of new Set(prepared.map((p) => p.data.lane ?? 'batch'))) {
        const group = prepared.filter((p) => (p.data.lane ?? 'batch') === lane);
        const place = await this.fair.reserve({
          tenantId: tenant.id,
          lane,
          weight: tenant.weight,
          ids: group.map((p) => p.id),
          tenantCap: tenant.maxQueued,
          totalCap: this.config.maxQueued,
        });
        if (!place.ok) {
          await this.fair.release(tenant.id, [...priority.keys()]);
          throw await this.queueFull(tenant, place.full, place.queued, ids.length);
        }
        group.forEach((p, i) => {
          p.data.round = place.rounds[i];
          priority.set(p.id, place.priorities[i] ?? 0);
        });
      }
    } catch (err) {
      if (err instanceof ApiError) throw err;
      throw unavailable(err);
    }
    let jobs: Job<JobData>[];
    try {
      const owners = this.redis.multi();
      for (const id of ids) owners.set(this.keys.owner(id), tenant.id, 'EX', this.config.resultTtlSeconds + 86_400);
      await owners.exec();
      jobs = await this.queue.addBulk(
        prepared.map(({ id, data }) => ({ name: 'run', data, opts: { jobId: id, priority: priority.get(id) } })),
      );
    } catch (err) {
      // A batch goes in as a pipeline of scripts that Redis refuses one by one: reaching its memory limit
      // midway, the first are queued and the rest refused. Those come out, so "nothing was queued" holds.
      if (isRedisOomError(err)) await Promise.all(ids.map((id) => this.queue.remove(id).catch(() => 0)));
      await this.fair.release(tenant.id, ids).catch(() => {});
      throw unavailable(err);
    }
    // Outside the catch above: the jobs are queued now, and nothing of them may be released.
    const bodyBytes = prepared.reduce((n, p) => n + Buffer.byteLength(JSON.stringify(p.data)), 0);
    // An uncounted body only lets the tenant store a little more: never worth failing a queued job.
    await this.ledger.add(tenant.id, bodyBytes).catch(() => {});
    await this.confirmReplicated();
    return jobs;
  }

  /** Past its stored-bytes quota a tenant queues nothing until enough of what it stored expires. */
  private async refuseOverQuota(tenant: Tenant): Promise<void> {
    const quota = await orUnavailable(this.ledger.check(tenant.id, tenant.maxStoredBytes));
    if (quota.ok) return;
    throw new ApiError(
      'storage_quota',
      `tenant ${tenant.id} has ${quota.used} bytes stored (job bodies, results and artifacts of the last ${this.config.resultTtlSeconds} s; its quota is ${tenant.maxStoredBytes}); retry in ${quota.retryAfterSeconds} s`,
      { maximum: tenant.maxStoredBytes, stored: quota.used },
      quota.retryAfterSeconds,
    );
  }

  /**
   * With SBX_REDIS_WAIT_REPLICAS, waits until the replicas hold every write made so far (the job,
   * its owner, its place). Short of them the honest answer is neither 202 nor "nothing was queued":
   * the job is on the primary and runs unless the primary fails first.
   */
  private async confirmReplicated(): Promise<void> {
    try {
      await this.fence?.confirm();
    } catch (err) {
      const why =
        err instanceof ReplicationShortError ? err.message : `Redis did not answer: ${(err as Error).message}`;
      throw new ApiError(
        'not_replicated',
        `${why}; the job was queued on the primary and runs unless the primary fails before a replica has it. Send the same request with the same Idempotency-Key to have it confirmed (never a second job)`,
        err instanceof ReplicationShortError ? { acknowledged: err.acknowledged, wanted: err.wanted } : undefined,
        1,
      );
    }
  }

  /** The refusal of a full queue, with when to try again at the pace jobs leave it. */
  private async queueFull(tenant: Tenant, full: 'tenant' | 'total', queued: number, wanted: number) {
    const rate = await this.fair.rate(full === 'tenant' ? tenant.id : undefined).catch(() => null);
    if (full === 'tenant') {
      const after = retryAfterSeconds(queued, tenant.maxQueued, wanted, rate);
      return new ApiError(
        'tenant_queue_full',
        `tenant ${tenant.id} already has ${queued} jobs waiting (its cap is ${tenant.maxQueued}); retry in ${after} s`,
        { maximum: tenant.maxQueued, queued },
        after,
      );
    }
    const after = retryAfterSeconds(queued, this.config.maxQueued, wanted, rate);
    return new ApiError(
      'queue_full',
      `the queue already holds ${queued} waiting jobs (its cap is ${this.config.maxQueued}); retry in ${after} s`,
      { maximum: this.config.maxQueued, queued },
      after,
    );
  }

  /**
   * Where a waiting job stands: its lane, the jobs that will start first, and when it should start.
   * Without `data` (a replayed key) the job is read. Redis trouble leaves the place unknown.
   */
  async place(id: string, data?: JobData): Promise<Pick<JobView, 'lane' | 'position' | 'eta_seconds'>> {
    try {
      const lane = (data ?? (await this.queue.getJob(id))?.data)?.lane;
      const position = await this.fair.position(id);
      const rate = position === null ? null : await this.recentRate();
      return {
        ...(lane ? { lane } : {}),
        position,
        eta_seconds: position === null ? null : etaSeconds(position, rate),
      };
    } catch {
      return { position: null, eta_seconds: null };
    }
  }

  /** The fleet's starts per second, read at most once per RATE_CACHE_MS: GET /jobs?ids= places up to 100 jobs. */
  private async recentRate(): Promise<number | null> {
    const now = Date.now();
    if (!this.rateCache || now - this.rateCache.at > RATE_CACHE_MS)
      this.rateCache = { at: now, value: await this.fair.rate(undefined, now) };
    return this.rateCache.value;
  }

  /** False when the job exists and belongs to someone else: callers then answer 404, as for no job. */
  /**
   * An environment served in config but whose image no live worker has (not built on this fleet) is
   * refused rather than queued for ever. Unknown (no live worker, Redis trouble) lets the job queue,
   * as every job does while workers are away.
   */
  private async refuseUnbuilt(environments: Environment[]): Promise<void> {
    const now = Date.now();
    if (!this.built || now - this.built.at > BUILT_CACHE_MS) {
      const workers = await liveWorkers(this.redis, this.config.prefix, this.config.workerStaleMs).catch(() => null);
      this.built = { at: now, names: workers ? builtEnvironments(workers) : null };
    }
    const { names } = this.built;
    if (!names) return;
    for (const environment of new Set(environments))
      if (!names.has(environment))
        throw new ApiError(
          'environment_not_available',
          `environment "${environment}" is not built on any live worker (build-image.sh ${environment}, then restart the workers)`,
          { environment, available: [...names] },
        );
  }

  /**
   * Whether the tenant may see or touch the job. An id not of our shape is nobody's and never reaches
   * Redis; a job with no owner record is nobody's too (every job the API queues gets one, kept past
   * its result), so a name that is not a job of ours can never pass for one.
   */
  private async ownedBy(id: string, tenant: Tenant): Promise<boolean> {
    if (!isJobId(id)) return false;
    return (await this.redis.get(this.keys.owner(id))) === tenant.id;
  }

  /**
   * A queued job is removed and recorded as cancelled. A running one is flagged and its worker told to
   * kill the container; the worker records the cancellation. Finished jobs cannot be cancelled.
   */
  async cancel(id: string, tenant: Tenant): Promise<'cancelled' | 'cancelling' | 'finished' | null> {
    if (!(await this.ownedBy(id, tenant))) return null;
    if (await this.result(id)) return 'finished';
    const job = await this.queue.getJob(id);
    if (!job) return null;
    await this.redis.set(this.keys.cancelFlag(id), '1', 'EX', 86_400);
    const state = await job.getState();
    if (state === 'completed' || state === 'failed') return 'finished';
    if (state !== 'active') {
      // remove() fails if a worker locked the job meanwhile: then it is running and the flag stops it.
      const removed = await job.remove().then(
        () => true,
        () => false,
      );
      if (removed) {
        if (job.data.tenant_id) await this.fair.release(job.data.tenant_id, [id]);
        const cancelled = cancelledResult(id, job.data);
        // First, and even at Redis's memory limit: out of the queue, the job now exists only as this
        // result (a few hundred bytes), and without it would be lost.
        await writePastLimit(this.redis, 'SET', this.keys.result(id), [
          JSON.stringify(cancelled),
          'EX',
          this.config.resultTtlSeconds,
          'NX',
        ]);
        if (job.data.callback_url)
          await this.webhooks?.enqueue(id, job.data.callback_url, cancelled, job.data.tenant_id);
        return 'cancelled';
      }
    }
    await this.redis.publish(this.keys.cancelChannel, id);
    return 'cancelling';
  }

  /** Sends the webhook again with a fresh webhook-id. False when the job has no delivery. */
  async redeliver(id: string, tenant: Tenant): Promise<boolean> {
    if (!(await this.ownedBy(id, tenant))) return false;
    if (!this.webhooks) throw new ApiError('webhooks_not_configured', 'this server has no webhook signing secret');
    return this.webhooks.redeliver(id);
  }

  /** Waits up to `waitMs` for the job to finish; null if it is still queued or running then. */
  async waitForResult(
    job: Job<JobData>,
    events: QueueEvents,
    waitMs: number,
    tenant: Tenant,
  ): Promise<RunResult | null> {
    const id = job.id as string;
    try {
      await job.waitUntilFinished(events, waitMs);
    } catch (err) {
      // Either the wait timed out or the job failed for good; the view tells which.
      if (!/timed out/i.test((err as Error).message)) {
        const view = await this.view(id, tenant);
        if (view?.result) return view.result;
      }
      return null;
    }
    return this.result(id);
  }

  /**
   * The same wait for a job known by id: a replayed Idempotency-Key names a job that may have
   * finished (its result stored, BullMQ's entry trimmed) or may still be running.
   */
  async waitForResultById(id: string, events: QueueEvents, waitMs: number, tenant: Tenant): Promise<RunResult | null> {
    if (!isJobId(id)) return null;
    const deadline = Date.now() + waitMs;
    // A concurrent request holding the same key may have claimed it and not yet queued the job.
    const appearBy = Date.now() + Math.min(waitMs, JOB_APPEAR_MS);
    for (;;) {
      const done = await this.result(id);
      if (done) return done;
      const job = await this.queue.getJob(id);
      if (job) return this.waitForResult(job, events, Math.max(1, deadline - Date.now()), tenant);
      if (Date.now() >= appearBy) return null;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async result(id: string): Promise<RunResult | null> {
    const raw = await this.redis.get(this.keys.result(id));
    return raw ? (JSON.parse(raw) as RunResult) : null;
  }

  /** One artifact of a finished job's result, as raw bytes; null when the job or the name is unknown. */
  async artifact(id: string, name: string, tenant: Tenant): Promise<{ mime: string; data: Buffer } | null> {
    if (!(await this.ownedBy(id, tenant))) return null;
    const found = (await this.result(id))?.artifacts?.find((a) => a.name === name);
    return found?.data === undefined ? null : { mime: found.mime, data: Buffer.from(found.data, 'base64') };
  }

  /** Where the job is. Null when no such job exists (or it has expired). */
  async view(id: string, tenant: Tenant): Promise<JobView | null> {
    if (!(await this.ownedBy(id, tenant))) return null;
    const result = await this.result(id);
    if (result) {
      const webhook = await this.webhooks?.state(id);
      return { id, state: 'completed', result, ...(webhook ? { webhook } : {}) };
    }
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
        return { id, state: 'queued', ...(await this.place(id, job.data)) };
    }
  }
}
