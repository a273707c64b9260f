import {
  type ApiConfig,
  ApiError,
  FairQueue,
  type JobData,
  type JobRequest,
  type JobView,
  type Lane,
  newJobId,
  type ReplicaFence,
  type RunResult,
  type ServiceInfo,
  StorageLedger,
  type Tenant,
} from '@sbx/shared';
import type { Job, Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { Admission, type PreparedJob } from './admission.js';
import { type CallbackQueue, Cancellation, type CancelOutcome } from './cancellation.js';
import { EnvironmentAvailability } from './environment-availability.js';
import { type QueuePlace, WaitEstimates } from './eta.js';
import { checkIdempotencyKey, IdempotencyKeys, requestHash } from './idempotency.js';
import { JobLookup, type WebhookStates } from './job-lookup.js';
import { inBatch, validateJob } from './job-validation.js';
import { confirmReplicated } from './replication.js';
import { describeService, type ServiceInfoConfig } from './service-info.js';
import { liveWorkers } from './workers.js';

type JobsConfig = ServiceInfoConfig &
  Pick<ApiConfig, 'prefix' | 'resultTtlSeconds' | 'workerStaleMs' | 'interactiveStreak'>;

interface Webhooks extends CallbackQueue, WebhookStates {
  redeliver(jobId: string): Promise<boolean>;
}

/**
 * Submitting and looking up jobs; the routes only translate HTTP. Each concern has a module of its
 * own (job-validation, admission, idempotency, replication, eta, environment-availability,
 * job-lookup, cancellation); this puts them together in the order a request needs them.
 */
export class JobService {
  private readonly fair: FairQueue;
  private readonly admission: Admission;
  private readonly idempotency: IdempotencyKeys;
  private readonly estimates: WaitEstimates;
  private readonly lookup: JobLookup;
  private readonly cancellation: Cancellation;

  constructor(
    queue: Queue<JobData>,
    private readonly redis: Redis,
    private readonly config: JobsConfig,
    private readonly webhooks: Webhooks | null = null,
    /** SBX_REDIS_WAIT_REPLICAS: no 202 before a replica holds the job. */
    private readonly fence: ReplicaFence | null = null,
  ) {
    this.fair = new FairQueue(redis, config.prefix, queue.name, config.interactiveStreak);
    const ledger = new StorageLedger(redis, config.prefix, config.resultTtlSeconds);
    const environments = new EnvironmentAvailability(() => this.liveWorkers());
    this.admission = new Admission({ queue, redis, config, fair: this.fair, ledger, environments, fence });
    this.estimates = new WaitEstimates(queue, this.fair);
    this.lookup = new JobLookup(queue, redis, config.prefix, webhooks, this.estimates);
    this.idempotency = new IdempotencyKeys(redis, config.prefix, (id) => this.lookup.hasJobOrResult(id));
    this.cancellation = new Cancellation(queue, redis, config, this.fair, this.lookup, webhooks);
  }

  private liveWorkers() {
    return liveWorkers(this.redis, this.config.prefix, this.config.workerStaleMs);
  }

  /** Waiting jobs per lane, for the metrics. */
  depth(): Promise<Record<Lane, number>> {
    return this.fair.depth();
  }

  /** What GET /info tells a tenant: the same bounds validateJob() enforces on its jobs, and what the workers run on. */
  async info(tenant: Tenant): Promise<ServiceInfo> {
    // The rest comes from config: a Redis outage leaves the runtimes unknown, not the answer failed.
    const workers = await this.liveWorkers().catch(() => []);
    return describeService(this.config, tenant, workers);
  }

  /** The checked queue entry under a new id. Throws ApiError for anything the caller must fix. */
  private prepare(
    request: JobRequest,
    requestId: string,
    tenant: Tenant,
    routeLane: Lane,
    judge0?: JobData['judge0'],
  ): PreparedJob {
    const webhooksConfigured = Boolean(this.webhooks);
    const data = validateJob(request, {
      config: this.config,
      tenant,
      routeLane,
      requestId,
      webhooksConfigured,
      now: new Date(),
    });
    return { id: newJobId(), data: judge0 ? { ...data, judge0 } : data };
  }

  /** `judge0`: the job is a Judge0 submission (compat/judge0), for its callback's shape. */
  async submit(
    request: JobRequest,
    requestId: string,
    tenant: Tenant,
    routeLane: Lane,
    judge0?: JobData['judge0'],
  ): Promise<Job<JobData>> {
    const [job] = await this.admission.admit(tenant, [this.prepare(request, requestId, tenant, routeLane, judge0)]);
    return job as Job<JobData>;
  }

  /**
   * Same key and same body: the same job. Same key, another body: 409 (idempotency.ts). The key is
   * claimed before the job is queued, and released if queueing fails.
   */
  async submitIdempotent(
    request: JobRequest,
    requestId: string,
    tenant: Tenant,
    key: string,
    routeLane: Lane,
  ): Promise<{ id: string; replay: boolean }> {
    checkIdempotencyKey(key);
    const bodyHash = requestHash(request);
    const prepared = this.prepare(request, requestId, tenant, routeLane);
    const claim = await this.idempotency.claim(tenant.id, key, prepared.id, bodyHash);
    if (claim.replay) {
      // A retry after not_replicated lands here: it is answered only once a replica has the job.
      await confirmReplicated(this.fence);
      return { id: claim.id, replay: true };
    }
    try {
      await this.admission.admit(tenant, [prepared]);
    } catch (err) {
      await this.idempotency.releaseAfter(claim.slot, err);
      throw err;
    }
    return { id: prepared.id, replay: false };
  }

  /** All or nothing: every request is checked before any is queued. */
  async submitBatch(requests: JobRequest[], requestId: string, tenant: Tenant): Promise<string[]> {
    const prepared = requests.map((r, index) => {
      try {
        return this.prepare(r, requestId, tenant, 'batch');
      } catch (err) {
        throw inBatch(err, index);
      }
    });
    await this.admission.admit(tenant, prepared);
    return prepared.map((p) => p.id);
  }

  place(id: string, data?: JobData): Promise<QueuePlace> {
    return this.estimates.place(id, data);
  }

  cancel(id: string, tenant: Tenant): Promise<CancelOutcome> {
    return this.cancellation.cancel(id, tenant);
  }

  /** Sends the webhook again with a fresh webhook-id. False when the job has no delivery. */
  async redeliver(id: string, tenant: Tenant): Promise<boolean> {
    if (!(await this.lookup.ownedBy(id, tenant))) return false;
    if (!this.webhooks) throw new ApiError('webhooks_not_configured', 'this server has no webhook signing secret');
    return this.webhooks.redeliver(id);
  }

  waitForResult(job: Job<JobData>, events: QueueEvents, waitMs: number, tenant: Tenant): Promise<RunResult | null> {
    return this.lookup.waitForResult(job, events, waitMs, tenant);
  }

  waitForResultById(id: string, events: QueueEvents, waitMs: number, tenant: Tenant): Promise<RunResult | null> {
    return this.lookup.waitForResultById(id, events, waitMs, tenant);
  }

  artifact(id: string, name: string, tenant: Tenant): Promise<{ mime: string; data: Buffer } | null> {
    return this.lookup.artifact(id, name, tenant);
  }

  view(id: string, tenant: Tenant): Promise<JobView | null> {
    return this.lookup.view(id, tenant);
  }

  /** Whether the tenant may see or touch the job (JobLookup.ownedBy). */
  ownedBy(id: string, tenant: Tenant): Promise<boolean> {
    return this.lookup.ownedBy(id, tenant);
  }
}
