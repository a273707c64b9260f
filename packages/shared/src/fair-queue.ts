/**
 * Queue order: lanes, and fair shares between tenants, on BullMQ's own priorities.
 *
 * Every job gets a BullMQ priority when it is queued; BullMQ serves the lowest first, FIFO within
 * one. The priority is the job's round, offset into its lane's band:
 * - A round is a turn of the tenants with work queued in a lane: each round holds up to `weight`
 *   jobs of each tenant. A tenant's next job goes in its last round while that has room, else in the
 *   next one; a tenant with nothing queued joins the round being served (the lane's clock: the
 *   highest round a worker has started). So a tenant's backlog of thousands is spread over
 *   thousands of rounds, and another tenant's job lands in the current one: it waits for at most
 *   one job of each tenant ahead of it in that round, whatever their backlogs.
 * - Interactive rounds are priorities 1 .. BAND-1, batch rounds BAND + 1 .. 2*BAND - 1: interactive
 *   work is always taken first. To never starve batch work, after `streak` interactive starts in
 *   a row across the fleet while batch work waits, the batch job due next is moved to the front.
 * - The clocks only grow. When the whole queue is idle and a clock has passed REBASE_AT, both
 *   start over at 1; a round past MAX_ROUND is served as MAX_ROUND (FIFO among those), so a queue
 *   that never once drains in a million rounds degrades to FIFO instead of failing.
 *
 * Everything is one Lua script per enqueue and one per start, so any number of API replicas and
 * workers share one order on one Redis. BullMQ's own layout is used in two places only, both in
 * this file, with every name and score from bullmq-internals.ts (where test/redis/bullmq-internals.test.ts
 * checks them against BullMQ): the prioritized set, whose rank is a job's position and whose score
 * is priority * 2^32 + a counter, and the four lists and sets that say the queue is idle.
 */
import type { Redis } from 'ioredis';
import { BULL_MAX_PRIORITY, bullKeys, prioritizedScore } from './bullmq-internals.js';
import type { Lane } from './lanes.js';

/** Width of one lane's band of BullMQ priorities: two bands fill BullMQ's 0 .. BULL_MAX_PRIORITY. */
export const BAND = (BULL_MAX_PRIORITY + 1) / 2;
export const MAX_ROUND = BAND - 1;
/** A clock past this starts over once the queue is idle. */
export const REBASE_AT = 2 ** 19;
/** Start times kept for the throughput estimate, fleet-wide and per tenant. */
const START_HISTORY = 100;
/** Starts older than this say nothing about the throughput now. */
export const RATE_WINDOW_MS = 60_000;
/** Reservations older than this are a crash between reserve and queue: dropped. */
const STALE_RESERVATION_MS = 86_400_000;

export const priorityOf = (lane: Lane, round: number): number =>
  (lane === 'interactive' ? 0 : BAND) + Math.min(Math.max(round, 1), MAX_ROUND);

/** Our keys: the waiting ids per tenant and per lane (score: accepted at, ms), the clocks, the starts. */
export const fairKeys = (prefix: string) => ({
  tenantQueued: (tenantId: string) => `${prefix}:queued:${tenantId}`,
  lane: (lane: Lane) => `${prefix}:lane:${lane}`,
  /** Hash: lane → its clock (the highest round started); `streak` → interactive starts in a row. */
  clock: `${prefix}:fair:clock`,
  /** Hash per lane: tenant → "round:count" of its last queued job. */
  last: (lane: Lane) => `${prefix}:fair:last:${lane}`,
  starts: `${prefix}:starts`,
  tenantStarts: (tenantId: string) => `${prefix}:starts:${tenantId}`,
});

// KEYS: tenant queued, this lane, the other lane, clock, this lane's last, the other lane's last,
// bull active, wait, prioritized, delayed.
// ARGV: now, tenant cap, total cap, tenant, weight, lane, REBASE_AT, MAX_ROUND, ids...
// Returns {0, total before, round...}, or {-1, the tenant's queued} / {-2, the total queued} when full.
const RESERVE = `
local now = tonumber(ARGV[1])
local stale = now - ${STALE_RESERVATION_MS}
for i = 1, 3 do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', stale) end
local n = #ARGV - 8
local mine = redis.call('ZCARD', KEYS[1])
if mine + n > tonumber(ARGV[2]) then return {-1, mine} end
local total = redis.call('ZCARD', KEYS[2]) + redis.call('ZCARD', KEYS[3])
if total + n > tonumber(ARGV[3]) then return {-2, total} end
local lane = ARGV[6]
local clock = tonumber(redis.call('HGET', KEYS[4], lane) or '1')
if clock >= tonumber(ARGV[7]) and total == 0 and redis.call('LLEN', KEYS[7]) == 0
  and redis.call('LLEN', KEYS[8]) == 0 and redis.call('ZCARD', KEYS[9]) == 0
  and redis.call('ZCARD', KEYS[10]) == 0 then
  redis.call('DEL', KEYS[4], KEYS[5], KEYS[6])
  clock = 1
end
local weight = tonumber(ARGV[5])
local round, count = clock, 0
local last = redis.call('HGET', KEYS[5], ARGV[4])
if last then
  local r, c = string.match(last, '^(%d+):(%d+)$')
  if tonumber(r) >= clock then round, count = tonumber(r), tonumber(c) end
end
local out = {0, total}
for i = 9, #ARGV do
  if count >= weight then round, count = round + 1, 0 end
  if round > tonumber(ARGV[8]) then round = tonumber(ARGV[8]) end
  count = count + 1
  redis.call('ZADD', KEYS[1], now, ARGV[i])
  redis.call('ZADD', KEYS[2], now, ARGV[i])
  out[#out + 1] = round
end
redis.call('HSET', KEYS[5], ARGV[4], round .. ':' .. count)
return out`;

// KEYS: tenant queued, interactive lane, batch lane, clock, starts, tenant starts, bull prioritized.
// ARGV: id, lane, round (or ''), now, streak, the batch band's lowest score, history length.
// Returns the id of a batch job to move to the front, or false.
const STARTED = `
for i = 1, 3 do redis.call('ZREM', KEYS[i], ARGV[1]) end
local round = tonumber(ARGV[3])
if round and round > tonumber(redis.call('HGET', KEYS[4], ARGV[2]) or '0') then
  redis.call('HSET', KEYS[4], ARGV[2], round)
end
for i = 5, 6 do
  redis.call('LPUSH', KEYS[i], ARGV[4])
  redis.call('LTRIM', KEYS[i], 0, tonumber(ARGV[7]) - 1)
  redis.call('PEXPIRE', KEYS[i], ${RATE_WINDOW_MS * 10})
end
if ARGV[2] ~= 'interactive' then
  redis.call('HSET', KEYS[4], 'streak', 0)
  return false
end
if redis.call('HINCRBY', KEYS[4], 'streak', 1) < tonumber(ARGV[5]) then return false end
local head = redis.call('ZRANGEBYSCORE', KEYS[7], ARGV[6], '+inf', 'LIMIT', 0, 1)[1]
if not head then return false end
redis.call('HSET', KEYS[4], 'streak', 0)
return head`;

// KEYS: bull prioritized, wait. ARGV: id. Jobs that start before it: -1 when it is not waiting.
// The wait list (promoted jobs) is taken from its right end, before any prioritized job.
const POSITION = `
local rank = redis.call('ZRANK', KEYS[1], ARGV[1])
if rank then return rank + redis.call('LLEN', KEYS[2]) end
local at = redis.call('LPOS', KEYS[2], ARGV[1])
if not at then return -1 end
return redis.call('LLEN', KEYS[2]) - 1 - at`;

export interface ReserveRequest {
  tenantId: string;
  lane: Lane;
  weight: number;
  ids: string[];
  /** The tenant's cap on waiting jobs, and the cap on all waiting jobs. */
  tenantCap: number;
  totalCap: number;
  now?: number;
}

export type Reservation =
  | { ok: true; rounds: number[]; priorities: number[] }
  | { ok: false; full: 'tenant' | 'total'; queued: number };

export interface StartedJob {
  id: string;
  tenantId: string;
  lane: Lane;
  /** Absent on jobs queued before lanes existed. */
  round?: number;
  now?: number;
}

/** The fleet-wide queue order, in Redis. One per process; safe for any number of processes. */
export class FairQueue {
  readonly keys;
  private readonly bull;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    queueName: string,
    /** Interactive starts in a row after which the batch job due next goes first. */
    private readonly streak = 4,
  ) {
    this.keys = fairKeys(prefix);
    this.bull = bullKeys(prefix, queueName);
  }

  /** Room for every id or none, each with its round and BullMQ priority. */
  async reserve(req: ReserveRequest): Promise<Reservation> {
    const other: Lane = req.lane === 'interactive' ? 'batch' : 'interactive';
    const k = this.keys;
    const b = this.bull;
    const out = (await this.redis.eval(
      RESERVE,
      10,
      k.tenantQueued(req.tenantId),
      k.lane(req.lane),
      k.lane(other),
      k.clock,
      k.last(req.lane),
      k.last(other),
      b.active,
      b.wait,
      b.prioritized,
      b.delayed,
      req.now ?? Date.now(),
      req.tenantCap,
      req.totalCap,
      req.tenantId,
      Math.max(1, Math.floor(req.weight)),
      req.lane,
      REBASE_AT,
      MAX_ROUND,
      ...req.ids,
    )) as number[];
    const [code, queued = 0, ...rounds] = out;
    if (code === -1) return { ok: false, full: 'tenant', queued };
    if (code === -2) return { ok: false, full: 'total', queued };
    return { ok: true, rounds, priorities: rounds.map((r) => priorityOf(req.lane, r)) };
  }

  /** Gives back what reserve took: the jobs were not queued after all, or were cancelled. */
  async release(tenantId: string, ids: string[]): Promise<void> {
    if (!ids.length) return;
    await this.redis
      .multi()
      .zrem(this.keys.tenantQueued(tenantId), ...ids)
      .zrem(this.keys.lane('interactive'), ...ids)
      .zrem(this.keys.lane('batch'), ...ids)
      .exec();
  }

  /** A worker took the job: its clock advances, its start counts. The id of a batch job to promote, or null. */
  async started(job: StartedJob): Promise<string | null> {
    const k = this.keys;
    const head = await this.redis.eval(
      STARTED,
      7,
      k.tenantQueued(job.tenantId),
      k.lane('interactive'),
      k.lane('batch'),
      k.clock,
      k.starts,
      k.tenantStarts(job.tenantId),
      this.bull.prioritized,
      job.id,
      job.lane,
      job.round ?? '',
      job.now ?? Date.now(),
      this.streak,
      // The lowest score a batch-band job can have.
      String(prioritizedScore(BAND)),
      START_HISTORY,
    );
    return typeof head === 'string' ? head : null;
  }

  /** Jobs that will start before this one, as things stand; null when it is not waiting in line. */
  async position(id: string): Promise<number | null> {
    const rank = Number(await this.redis.eval(POSITION, 2, this.bull.prioritized, this.bull.wait, id));
    return rank >= 0 ? rank : null;
  }

  /** Recent starts per second, fleet-wide or of one tenant; null when too few to tell. */
  async rate(tenantId?: string, now = Date.now()): Promise<number | null> {
    const key = tenantId === undefined ? this.keys.starts : this.keys.tenantStarts(tenantId);
    return startRate((await this.redis.lrange(key, 0, -1)).map(Number), now);
  }

  /** Waiting jobs per lane (running ones are not counted). */
  async depth(): Promise<Record<Lane, number>> {
    const [interactive, batch] = await Promise.all([
      this.redis.zcard(this.keys.lane('interactive')),
      this.redis.zcard(this.keys.lane('batch')),
    ]);
    return { interactive, batch };
  }
}

/** A queued BullMQ job, as far as promotion needs it. */
interface Promotable {
  changePriority(opts: { priority: number }): Promise<void>;
}

/**
 * Moves the batch job `started()` named to the front: priority 0 is BullMQ's wait list, taken
 * before every prioritized job. False when it left the queue first (taken, cancelled): nothing to do.
 */
export async function promoteToFront(
  getJob: (id: string) => Promise<Promotable | undefined>,
  id: string,
): Promise<boolean> {
  try {
    const job = await getJob(id);
    if (!job) return false;
    await job.changePriority({ priority: 0 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts per second from start times (ms, any order): the pace over the starts of the last
 * RATE_WINDOW_MS, null with fewer than two of them or none in the last RATE_WINDOW_MS.
 */
export function startRate(startsMs: number[], now: number): number | null {
  const recent = startsMs.filter((t) => Number.isFinite(t) && now - t <= RATE_WINDOW_MS);
  if (recent.length < 2) return null;
  const span = (Math.max(...recent) - Math.min(...recent)) / 1000;
  return span > 0 ? (recent.length - 1) / span : null;
}

/** Seconds until a job with `position` jobs ahead starts: its own start is the (position+1)-th. */
export function etaSeconds(position: number, rate: number | null): number | null {
  if (rate === null || rate <= 0) return null;
  return Math.round(((position + 1) / rate) * 10) / 10;
}

/** When a full queue fits `wanted` more jobs again at `rate`: whole seconds, 1 .. 3600. */
export const RETRY_AFTER_UNKNOWN_S = 30;
export function retryAfterSeconds(queued: number, cap: number, wanted: number, rate: number | null): number {
  if (rate === null || rate <= 0) return RETRY_AFTER_UNKNOWN_S;
  const excess = Math.max(1, queued + wanted - cap);
  return Math.min(3600, Math.max(1, Math.ceil(excess / rate)));
}
