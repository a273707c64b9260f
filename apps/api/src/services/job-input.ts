import {
  type ApiConfig,
  ApiError,
  INPUT_FIELDS,
  INPUT_STATE_FIELDS,
  isRedisOomError,
  type JobInputAccepted,
  type JobInputRequest,
  MAX_INPUT_CALLS,
  redisKeys,
  type StorageLedger,
  storageFullError,
  type Tenant,
} from '@sbx/shared';
import type { Redis } from 'ioredis';
import { storageQuotaError } from './admission.js';
import { type InputPlan, type InputState, inputCall, planInput } from './input-plan.js';

const F = INPUT_STATE_FIELDS;

/**
 * Applies a plan made from the state read before (input-plan.ts), only if that state is still the
 * state: a concurrent call for the same job that got in first makes this one plan again. Redis
 * then holds every accepted byte once, in order, whatever calls race.
 *
 * KEYS: state hash, input stream, result. ARGV: accepted and eof as read, op ('d' append, 'e'
 * close), the bytes, the new accepted length, TTL seconds. Returns ok, changed, finished or gone.
 */
const APPLY = `
if redis.call('EXISTS', KEYS[3]) == 1 then return 'finished' end
local s = redis.call('HMGET', KEYS[1], '${F.accepted}', '${F.eof}', '${F.calls}')
if not s[1] then return 'gone' end
if s[1] ~= ARGV[1] or (s[2] or '0') ~= ARGV[2] then return 'changed' end
if ARGV[3] == 'd' then
  redis.call('XADD', KEYS[2], '*', '${INPUT_FIELDS.data}', ARGV[4])
  redis.call('HSET', KEYS[1], '${F.accepted}', ARGV[5], '${F.calls}', (tonumber(s[3]) or 0) + 1)
else
  redis.call('XADD', KEYS[2], '*', '${INPUT_FIELDS.eof}', '1')
  redis.call('HSET', KEYS[1], '${F.eof}', '1')
end
redis.call('EXPIRE', KEYS[2], ARGV[6])
redis.call('EXPIRE', KEYS[1], ARGV[6])
return 'ok'
`;

/** Plans made again when other calls keep getting in first: far more than a job's callers ever race. */
const MAX_ROUNDS = 16;

export type JobInputConfig = Pick<ApiConfig, 'prefix' | 'stdinMaxCallBytes' | 'stdinMaxBytes' | 'resultTtlSeconds'>;

/** POST /jobs/:id/stdin: an interactive job's input, appended to its stream in Redis (job-input.ts in shared). */
export class JobInput {
  private readonly keys;

  constructor(
    private readonly redis: Pick<Redis, 'multi' | 'eval'>,
    private readonly config: JobInputConfig,
    /** Whether the tenant may see the job (JobLookup.ownedBy): anyone else gets a 404. */
    private readonly owned: (id: string, tenant: Tenant) => Promise<boolean>,
    /** The tenants' stored bytes: input counts as job bodies do, and past the quota none is taken. */
    private readonly ledger: Pick<StorageLedger, 'check' | 'add'> | null = null,
  ) {
    this.keys = redisKeys(config.prefix);
  }

  /** Where the input stands after the call; null for a job the tenant cannot see. Throws ApiError. */
  async send(id: string, tenant: Tenant, body: JobInputRequest): Promise<JobInputAccepted | null> {
    const call = inputCall(body, this.config.stdinMaxCallBytes);
    if (!(await this.redisOr(this.owned(id, tenant)))) return null;
    const caps = { maxBytes: this.config.stdinMaxBytes, maxCalls: MAX_INPUT_CALLS };
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const state = await this.redisOr(this.state(id));
      const plan = planInput(state, call, caps);
      if (plan.kind === 'refuse') throw plan.error;
      if (plan.kind === 'answer') return { offset: plan.accepted, eof: plan.eof };
      if (plan.kind === 'append' && round === 0) await this.refuseOverQuota(tenant);
      const outcome = await this.redisOr(this.apply(id, state, plan));
      if (outcome === 'ok') {
        // An uncounted append only lets the tenant store a little more: never worth failing the call.
        if (plan.kind === 'append') await this.ledger?.add(tenant.id, plan.data.length).catch(() => {});
        return { offset: plan.accepted, eof: plan.kind === 'close' };
      }
      // The result was stored, or the hash expired, between the read and the write: plan on that.
    }
    throw new ApiError('internal', `the input of job ${id} kept changing under this call; try again`);
  }

  private async state(id: string): Promise<InputState> {
    const replies = await this.redis
      .multi()
      .exists(this.keys.result(id))
      .hmget(this.keys.inputState(id), F.accepted, F.eof, F.calls)
      .exec();
    const [finished, fields] = (replies ?? []).map(([err, value]) => {
      if (err) throw err;
      return value;
    }) as [number, (string | null)[]];
    const [accepted, eof, calls] = fields;
    return {
      finished: finished === 1,
      interactive: accepted !== null && accepted !== undefined,
      accepted: Number(accepted ?? 0),
      eof: eof === '1',
      calls: Number(calls ?? 0),
    };
  }

  private async apply(id: string, read: InputState, plan: Extract<InputPlan, { kind: 'append' | 'close' }>) {
    const append = plan.kind === 'append';
    return (await this.redis.eval(
      APPLY,
      3,
      this.keys.inputState(id),
      this.keys.input(id),
      this.keys.result(id),
      String(read.accepted),
      read.eof ? '1' : '0',
      append ? 'd' : 'e',
      append ? plan.data : '',
      String(plan.accepted),
      // As the owner record: the input lives while the job can run (the result store cuts it after).
      String(this.config.resultTtlSeconds + 86_400),
    )) as 'ok' | 'changed' | 'finished' | 'gone';
  }

  /** Past its stored-bytes quota a tenant's jobs take no more input (429 storage_quota); eof still goes. */
  private async refuseOverQuota(tenant: Tenant): Promise<void> {
    if (!this.ledger) return;
    const quota = await this.redisOr(this.ledger.check(tenant.id, tenant.maxStoredBytes));
    if (!quota.ok) throw storageQuotaError(tenant, quota, this.config.resultTtlSeconds);
  }

  /** Redis trouble as a 503 that says the input was not accepted; anything else as it was. */
  private async redisOr<T>(work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (err) {
      if (err instanceof ApiError) throw err;
      if (isRedisOomError(err)) throw storageFullError('the input was not accepted');
      throw new ApiError('queue_unavailable', 'Redis is unavailable; the input was not accepted, try again', {
        cause: (err as Error).message,
      });
    }
  }
}
