/**
 * A tenant's stored bytes within the result TTL: job bodies when accepted, results (artifacts
 * included) when stored. Past its quota a tenant's new jobs are refused (429 storage_quota) until
 * enough of what it stored has expired; nothing already accepted is touched.
 *
 * Counted in time buckets, one Redis counter each, that expire a TTL after the bucket ends: a byte
 * is counted from when it is stored until at most one bucket after it expired, never less, and a
 * check is one MGET whatever the tenant stored. Deleting a job early does not give its bytes back.
 */
import type { Redis } from 'ioredis';

/** Buckets per TTL: the count overstays by at most TTL / BUCKETS (an hour of a day's TTL). */
export const QUOTA_BUCKETS = 24;

export interface StoredBucket {
  /** When this bucket's bytes stop counting (ms). */
  expiresAt: number;
  bytes: number;
}

export type QuotaCheck = { ok: true; used: number } | { ok: false; used: number; retryAfterSeconds: number };

export class StorageLedger {
  private readonly ttlMs: number;
  private readonly bucketMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    ttlSeconds: number,
  ) {
    this.ttlMs = ttlSeconds * 1000;
    this.bucketMs = Math.max(1000, Math.ceil(this.ttlMs / QUOTA_BUCKETS));
  }

  private key(tenantId: string, bucket: number) {
    return `${this.prefix}:stored:${tenantId}:${bucket}`;
  }

  private expiryOf(bucket: number) {
    return (bucket + 1) * this.bucketMs + this.ttlMs;
  }

  /** Counts bytes the tenant stored now. */
  async add(tenantId: string, bytes: number, now = Date.now()): Promise<void> {
    if (bytes <= 0) return;
    const bucket = Math.floor(now / this.bucketMs);
    const key = this.key(tenantId, bucket);
    await this.redis.multi().incrby(key, Math.ceil(bytes)).pexpireat(key, this.expiryOf(bucket)).exec();
  }

  /** What the tenant has stored that still counts, oldest bucket first. */
  async buckets(tenantId: string, now = Date.now()): Promise<StoredBucket[]> {
    const last = Math.floor(now / this.bucketMs);
    const first = last - QUOTA_BUCKETS - 1;
    const ids = Array.from({ length: last - first + 1 }, (_, i) => first + i);
    const values = await this.redis.mget(...ids.map((b) => this.key(tenantId, b)));
    return ids
      .map((b, i) => ({ expiresAt: this.expiryOf(b), bytes: Number(values[i] ?? 0) }))
      .filter((b) => b.bytes > 0 && b.expiresAt > now);
  }

  async check(tenantId: string, quotaBytes: number, now = Date.now()): Promise<QuotaCheck> {
    return quotaCheck(await this.buckets(tenantId, now), quotaBytes, now);
  }
}

/**
 * Under the quota: ok. At or past it: when enough buckets will have expired to bring the tenant
 * under it again, in whole seconds (at least 1).
 */
export function quotaCheck(buckets: StoredBucket[], quotaBytes: number, now: number): QuotaCheck {
  const live = buckets.filter((b) => b.expiresAt > now).sort((a, b) => a.expiresAt - b.expiresAt);
  const used = live.reduce((n, b) => n + b.bytes, 0);
  if (used < quotaBytes) return { ok: true, used };
  let left = used;
  for (const b of live) {
    left -= b.bytes;
    if (left < quotaBytes)
      return { ok: false, used, retryAfterSeconds: Math.max(1, Math.ceil((b.expiresAt - now) / 1000)) };
  }
  return { ok: false, used, retryAfterSeconds: 1 };
}
