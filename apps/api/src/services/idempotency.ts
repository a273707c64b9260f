import { createHash } from 'node:crypto';
import { ApiError, type JobRequest, redisKeys } from '@sbx/shared';
import type { Redis } from 'ioredis';
import { orUnavailable, unavailable } from './unavailable.js';

const IDEMPOTENCY_TTL_SECONDS = 86_400;
/** How long a replayed key waits for the job its first request is still queueing. */
export const JOB_APPEAR_MS = 2000;

/** KEYS[1] an idempotency slot; ARGV: the claim it must still hold, the new claim, TTL. 1 when replaced. */
const TAKE_OVER_KEY = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
`;

/** Refuses an Idempotency-Key header that is not 1-255 visible ASCII characters. */
export function checkIdempotencyKey(key: string): void {
  if (!/^[\x21-\x7e]{1,255}$/.test(key))
    throw new ApiError('validation_failed', 'Idempotency-Key must be 1-255 visible ASCII characters');
}

/** What "the same body" means for a key: the request as it arrived, hashed. */
export function requestHash(request: JobRequest): string {
  return createHash('sha256').update(JSON.stringify(request)).digest('hex');
}

/** A key's outcome: the job an earlier request queued under it, or the slot this request now holds. */
export type Claim = { replay: true; id: string } | { replay: false; slot: string };

/**
 * Same key and same body: the same job. Same key, another body: 409. The key is claimed
 * atomically (SET NX) before the job is queued, and released if queueing fails.
 */
export class IdempotencyKeys {
  private readonly keys;

  constructor(
    private readonly redis: Pick<Redis, 'set' | 'get' | 'eval' | 'del'>,
    prefix: string,
    /** Whether a job was queued under this id, or has finished. */
    private readonly jobKnown: (id: string) => Promise<boolean>,
  ) {
    this.keys = redisKeys(prefix);
  }

  /** Claims `key` for the job `id` (not yet queued) unless an earlier request holds it for the same body. */
  async claim(tenantId: string, key: string, id: string, bodyHash: string): Promise<Claim> {
    // Keys are per tenant: two tenants may pick the same key without meeting.
    const slot = this.keys.idempotency(createHash('sha256').update(`${tenantId}\n${key}`).digest('hex'));
    const claim = JSON.stringify({ id, bodyHash });
    const claimed = await orUnavailable(this.redis.set(slot, claim, 'EX', IDEMPOTENCY_TTL_SECONDS, 'NX'));
    if (claimed) return { replay: false, slot };
    const raw = await orUnavailable(this.redis.get(slot));
    const previous = JSON.parse(raw ?? '{}') as { id?: string; bodyHash?: string };
    if (previous.bodyHash !== bodyHash || !previous.id)
      throw new ApiError('idempotency_conflict', 'this Idempotency-Key was used with a different request body');
    if (await this.queuedOrDone(previous.id)) return { replay: true, id: previous.id };
    // The request that claimed the key never queued its job: Redis failed between the two (a
    // failover) and the key could not be released. Answering its id would be a 202 for nothing.
    const taken = await orUnavailable(
      this.redis.eval(TAKE_OVER_KEY, 1, slot, raw ?? '', claim, IDEMPOTENCY_TTL_SECONDS),
    );
    if (taken !== 1) throw unavailable(new Error('another request took this Idempotency-Key over meanwhile'));
    return { replay: false, slot };
  }

  /** Gives the slot back after queueing its job failed with `err`, so that a retry may queue it. */
  async releaseAfter(slot: string, err: unknown): Promise<void> {
    // Queued but unconfirmed: the key must keep naming that job, or a retry would queue a second one.
    if (!(err instanceof ApiError && err.code === 'not_replicated')) await this.redis.del(slot).catch(() => {});
  }

  /** Whether a job was queued under this id (or finished); false once JOB_APPEAR_MS passed with neither. */
  private async queuedOrDone(id: string): Promise<boolean> {
    // The request holding the key may be queueing the job right now.
    const appearBy = Date.now() + JOB_APPEAR_MS;
    for (;;) {
      if (await orUnavailable(this.jobKnown(id))) return true;
      if (Date.now() >= appearBy) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
