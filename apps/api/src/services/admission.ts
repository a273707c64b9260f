import {
  type ApiConfig,
  ApiError,
  type FairQueue,
  INPUT_STATE_FIELDS,
  isRedisOomError,
  type JobData,
  type QuotaCheck,
  type ReplicaFence,
  redisKeys,
  retryAfterSeconds,
  type StorageLedger,
  type Tenant,
} from '@sbx/shared';
import type { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { EnvironmentAvailability } from './environment-availability.js';
import { confirmReplicated } from './replication.js';
import { orUnavailable, unavailable } from './unavailable.js';

/** A checked request (job-validation.ts) with the id it will be queued under. */
export interface PreparedJob {
  id: string;
  data: JobData;
}

export type AdmissionConfig = Pick<ApiConfig, 'prefix' | 'maxQueued' | 'resultTtlSeconds'>;

/** What admission needs around it; the job service builds these once and shares them. */
export interface AdmissionDeps {
  queue: Pick<Queue<JobData>, 'addBulk' | 'remove'>;
  redis: Pick<Redis, 'multi'>;
  config: AdmissionConfig;
  fair: Pick<FairQueue, 'reserve' | 'release' | 'rate'>;
  ledger: Pick<StorageLedger, 'check' | 'add'>;
  environments: Pick<EnvironmentAvailability, 'refuseUnbuilt'>;
  /** SBX_REDIS_WAIT_REPLICAS: no 202 before a replica holds the job. */
  fence: Pick<ReplicaFence, 'confirm'> | null;
}

/** Whether checked jobs may queue, and queueing them: all of them or none. */
export class Admission {
  private readonly keys;

  constructor(private readonly deps: AdmissionDeps) {
    this.keys = redisKeys(deps.config.prefix);
  }

  /**
   * Reserves the jobs' places in the fair order (fair-queue.ts), atomically for each lane of the
   * batch, queues them with their priorities, and records ownership. The tenant's cap full is a 429,
   * the whole queue's a 503, both with a Retry-After from the recent throughput; Redis trouble is a
   * 503 and nothing stays reserved.
   */
  async admit(tenant: Tenant, prepared: PreparedJob[]): Promise<Job<JobData>[]> {
    await this.deps.environments.refuseUnbuilt(prepared.map((p) => p.data.environment ?? 'python'));
    await this.refuseOverQuota(tenant);
    const priority = await this.reservePlaces(tenant, prepared);
    const jobs = await this.queueJobs(tenant, prepared, priority);
    // Outside queueJobs: the jobs are queued now, and nothing of them may be released.
    const bodyBytes = prepared.reduce((n, p) => n + Buffer.byteLength(JSON.stringify(p.data)), 0);
    // An uncounted body only lets the tenant store a little more: never worth failing a queued job.
    await this.deps.ledger.add(tenant.id, bodyBytes).catch(() => {});
    await confirmReplicated(this.deps.fence);
    return jobs;
  }

  /** Past its stored-bytes quota a tenant queues nothing until enough of what it stored expires. */
  private async refuseOverQuota(tenant: Tenant): Promise<void> {
    const quota = await orUnavailable(this.deps.ledger.check(tenant.id, tenant.maxStoredBytes));
    if (!quota.ok) throw storageQuotaError(tenant, quota, this.deps.config.resultTtlSeconds);
  }

  /**
   * Each job's place, lane by lane: its round goes into its data, its BullMQ priority into the map
   * returned. A lane that does not fit gives back the places already taken.
   */
  private async reservePlaces(tenant: Tenant, prepared: PreparedJob[]): Promise<Map<string, number>> {
    const { fair, config } = this.deps;
    const priority = new Map<string, number>();
    try {
      for (const lane of new Set(prepared.map((p) => p.data.lane ?? 'batch'))) {
        const group = prepared.filter((p) => (p.data.lane ?? 'batch') === lane);
        const place = await fair.reserve({
          tenantId: tenant.id,
          lane,
          weight: tenant.weight,
          ids: group.map((p) => p.id),
          tenantCap: tenant.maxQueued,
          totalCap: config.maxQueued,
        });
        if (!place.ok) {
          await fair.release(tenant.id, [...priority.keys()]);
          const rate = await fair.rate(place.full === 'tenant' ? tenant.id : undefined).catch(() => null);
          throw queueFullError(tenant, config.maxQueued, place.full, place.queued, prepared.length, rate);
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
    return priority;
  }

  /** The owner records, then the jobs; on any failure nothing stays queued or reserved. */
  private async queueJobs(
    tenant: Tenant,
    prepared: PreparedJob[],
    priority: Map<string, number>,
  ): Promise<Job<JobData>[]> {
    const { queue, redis, fair, config } = this.deps;
    const ids = prepared.map((p) => p.id);
    try {
      const owners = redis.multi();
      const ttl = config.resultTtlSeconds + 86_400;
      for (const id of ids) owners.set(this.keys.owner(id), tenant.id, 'EX', ttl);
      // An interactive job's input starts empty and open (job-input.ts): the hash says it may take more.
      for (const { id } of prepared.filter((p) => p.data.interactive)) {
        owners.hset(this.keys.inputState(id), INPUT_STATE_FIELDS.accepted, 0, INPUT_STATE_FIELDS.eof, 0);
        owners.expire(this.keys.inputState(id), ttl);
      }
      await owners.exec();
      return await queue.addBulk(
        prepared.map(({ id, data }) => ({ name: 'run', data, opts: { jobId: id, priority: priority.get(id) } })),
      );
    } catch (err) {
      // A batch goes in as a pipeline of scripts that Redis refuses one by one: reaching its memory limit
      // midway, the first are queued and the rest refused. Those come out, so "nothing was queued" holds.
      if (isRedisOomError(err)) await Promise.all(ids.map((id) => queue.remove(id).catch(() => 0)));
      await fair.release(tenant.id, ids).catch(() => {});
      throw unavailable(err);
    }
  }
}

/** The refusal of a full queue, with when to try again at the pace jobs leave it (`rate`, starts per second). */
export function queueFullError(
  tenant: Pick<Tenant, 'id' | 'maxQueued'>,
  totalCap: number,
  full: 'tenant' | 'total',
  queued: number,
  wanted: number,
  rate: number | null,
): ApiError {
  if (full === 'tenant') {
    const after = retryAfterSeconds(queued, tenant.maxQueued, wanted, rate);
    return new ApiError(
      'tenant_queue_full',
      `tenant ${tenant.id} already has ${queued} jobs waiting (its cap is ${tenant.maxQueued}); retry in ${after} s`,
      { maximum: tenant.maxQueued, queued },
      after,
    );
  }
  const after = retryAfterSeconds(queued, totalCap, wanted, rate);
  return new ApiError(
    'queue_full',
    `the queue already holds ${queued} waiting jobs (its cap is ${totalCap}); retry in ${after} s`,
    { maximum: totalCap, queued },
    after,
  );
}

/** The refusal of a tenant past its stored-bytes quota, with when enough of it expires. */
export function storageQuotaError(
  tenant: Pick<Tenant, 'id' | 'maxStoredBytes'>,
  quota: Extract<QuotaCheck, { ok: false }>,
  resultTtlSeconds: number,
): ApiError {
  return new ApiError(
    'storage_quota',
    `tenant ${tenant.id} has ${quota.used} bytes stored (job bodies, results and artifacts of the last ${resultTtlSeconds} s; its quota is ${tenant.maxStoredBytes}); retry in ${quota.retryAfterSeconds} s`,
    { maximum: tenant.maxStoredBytes, stored: quota.used },
    quota.retryAfterSeconds,
  );
}
