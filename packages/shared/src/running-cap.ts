/**
 * A tenant's cap on running jobs, fleet-wide: what stops one tenant's long jobs from holding every
 * worker slot while another tenant's one-liner waits behind them.
 *
 * The fair order (fair-queue.ts) decides which job starts next; it cannot take back a slot a job
 * already holds, and a job may hold one for tests × time limit (minutes). So a tenant may hold at
 * most `max_running` slots at once: with S slots in the fleet and a cap below S, one tenant's
 * backlog always leaves a slot that another tenant's next job can take.
 *
 * Each running job holds a lease in a sorted set per tenant (score: when the lease ends, its worst
 * case run time from now), so a worker that dies holding one frees it when the lease ends, and a
 * job retaken after its worker died keeps its own lease. A worker that takes a job of a tenant at
 * its cap parks it: the id goes in the tenant's parked set, in its queue order, and the job into
 * BullMQ's delayed set (no attempt spent) until the lease that ends first. When one of the tenant's
 * jobs ends, its worker promotes the tenant's first parked job, so a parked job waits for a slot of
 * its own tenant, not for a timer.
 */
import type { Redis } from 'ioredis';

/** Parked ids older than this are a job removed while parked (cancelled, expired): dropped. */
const PARKED_TTL_MS = 86_400_000;

export const runningCapKeys = (prefix: string) => ({
  /** Sorted set: job id → when its lease ends (ms). */
  running: (tenantId: string) => `${prefix}:running:${tenantId}`,
  /** Sorted set: "<order>:<job id>" → the job's BullMQ priority, so the parked ids leave in queue order. */
  parked: (tenantId: string) => `${prefix}:parked:${tenantId}`,
});

// KEYS: running, parked. ARGV: now, cap, lease end, id, park score, park member.
// Returns {1} when the job may run, else {0, when the first lease ends} after parking it.
const TAKE = `
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[4]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
  redis.call('PEXPIREAT', KEYS[1], redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2])
  return {1}
end
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[6])
redis.call('PEXPIRE', KEYS[2], ${PARKED_TTL_MS})
return {0, redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]}`;

// KEYS: running, parked. ARGV: id, how many parked to hand out. Returns the parked members handed out.
const RELEASE = `
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('ZPOPMIN', KEYS[2], tonumber(ARGV[2]))`;

export type TakeOutcome = { ok: true } | { ok: false; retryAt: number };

export interface TakeRequest {
  tenantId: string;
  jobId: string;
  /** The tenant's cap on running jobs; 0: no cap, and Redis is not asked. */
  cap: number;
  /** The job's worst case: how long its slot may be held. */
  leaseMs: number;
  /** BullMQ priority of the job (lane and round): parked jobs leave in this order. */
  priority: number;
  /** When the job was accepted (ms): the order within one priority. */
  acceptedAt: number;
  now?: number;
}

export class RunningCap {
  readonly keys;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = runningCapKeys(prefix);
  }

  /** A slot for the job, or it is parked until `retryAt` (the end of the tenant's first lease). */
  async take(req: TakeRequest): Promise<TakeOutcome> {
    if (req.cap <= 0) return { ok: true };
    const now = req.now ?? Date.now();
    const out = (await this.redis.eval(
      TAKE,
      2,
      this.keys.running(req.tenantId),
      this.keys.parked(req.tenantId),
      now,
      req.cap,
      now + req.leaseMs,
      req.jobId,
      req.priority,
      parkedMember(req.acceptedAt, req.jobId),
    )) as [number, string?];
    if (out[0] === 1) return { ok: true };
    return { ok: false, retryAt: Number(out[1] ?? now) };
  }

  /** The job's slot is free again: the ids of the tenant's parked jobs to wake (at most `wake`). */
  async release(tenantId: string, jobId: string, wake = 1): Promise<string[]> {
    const popped = (await this.redis.eval(
      RELEASE,
      2,
      this.keys.running(tenantId),
      this.keys.parked(tenantId),
      jobId,
      wake,
    )) as string[];
    // ZPOPMIN answers member, score, member, score...
    return popped.filter((_, i) => i % 2 === 0).map(jobIdOfParked);
  }

  /** The tenant's next parked job, when the one `release` named was gone. */
  async nextParked(tenantId: string): Promise<string[]> {
    const popped = await this.redis.zpopmin(this.keys.parked(tenantId), 1);
    return popped.filter((_, i) => i % 2 === 0).map(jobIdOfParked);
  }

  /** Jobs of the tenant running now, by their leases. */
  async running(tenantId: string, now = Date.now()): Promise<number> {
    return this.redis.zcount(this.keys.running(tenantId), `(${now}`, '+inf');
  }
}

/** Zero-padded accepted-at first: members of one priority sort in the order they were accepted. */
export const parkedMember = (acceptedAt: number, jobId: string) =>
  `${String(Math.max(0, Math.floor(acceptedAt))).padStart(15, '0')}:${jobId}`;

export const jobIdOfParked = (member: string) => member.slice(member.indexOf(':') + 1);
