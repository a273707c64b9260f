/**
 * Redis at its memory limit. Redis runs with `maxmemory` and `maxmemory-policy noeviction` (BullMQ
 * requires noeviction: an evicted queue key is a lost job), so at the limit it evicts nothing and
 * refuses every command that may grow memory with "OOM command not allowed when used memory >
 * 'maxmemory'". Reads, deletions, PEXPIRE and PUBLISH still run.
 *
 * Redis 7.0's rule for a Lua script without flags (all of BullMQ's, and ours): it is refused only at
 * its first write, and only when that write may grow memory; once a script has written anything (a
 * DEL, a ZREM, a PEXPIRE), the rest of it runs even at the limit, so no script is ever cut in half.
 * Measured on 7.0.15 with BullMQ 6.7: adding a job and renewing a lock (a SET first) are refused,
 * completing or failing a job (a DEL of its lock first) is not.
 */
import type { Redis } from 'ioredis';
import { ApiError } from './errors.js';

/** Retry-After of a request refused because Redis is full: room comes back as results expire or an operator acts. */
export const STORAGE_FULL_RETRY_AFTER_S = 30;

const OOM = "OOM command not allowed when used memory > 'maxmemory'";

/**
 * Whether Redis refused this for memory: a command's own error, one raised in a script (the message
 * then names the script), or a MULTI discarded because a queued command was refused (EXECABORT, with
 * the refusals in `previousErrors`, as ioredis reports them).
 */
export function isRedisOomError(err: unknown, seen = new Set<unknown>()): boolean {
  // ioredis may list an error among its own previousErrors (a MULTI cut by a lost connection during a
  // failover): without `seen` that recursed until the stack overflowed, and a 503 became a 500.
  if (!(err instanceof Error) || seen.has(err)) return false;
  seen.add(err);
  if (err.message.includes(OOM)) return true;
  const previous = (err as Error & { previousErrors?: unknown }).previousErrors;
  return Array.isArray(previous) && previous.some((e) => isRedisOomError(e, seen));
}

export interface RedisMemory {
  /** used_memory: what Redis holds, buffers included. */
  usedBytes: number;
  /** maxmemory; 0 when there is no limit. */
  maxBytes: number;
  /** mem_not_counted_for_evict: replication and AOF buffers, which the limit leaves out. */
  notCountedBytes: number;
}

/** The fields of `INFO memory` that say how close Redis is to its limit. */
export function parseRedisMemory(info: string): RedisMemory {
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  return {
    usedBytes: field('used_memory'),
    maxBytes: field('maxmemory'),
    notCountedBytes: field('mem_not_counted_for_evict'),
  };
}

/** Whether Redis accepts writes that grow memory: the check Redis itself makes before each such command. */
export function hasRoom(m: RedisMemory): boolean {
  return m.maxBytes === 0 || m.usedBytes - m.notCountedBytes <= m.maxBytes;
}

export async function readRedisMemory(redis: Pick<Redis, 'info'>): Promise<RedisMemory> {
  return parseRedisMemory(await redis.info('memory'));
}

/**
 * The refusal of a request Redis had no room for: 503 storage_full with a Retry-After. `outcome` says
 * what became of the request ("nothing was queued").
 */
export function storageFullError(outcome = 'the request was not carried out'): ApiError {
  return new ApiError(
    'storage_full',
    `Redis, which holds the queue and the results, is at its memory limit (maxmemory); ${outcome}. Try again later`,
    undefined,
    STORAGE_FULL_RETRY_AFTER_S,
  );
}

/** One write command on one key, flagged to run past the memory limit. */
const PAST_LIMIT = `#!lua flags=allow-oom
return redis.call(ARGV[1], KEYS[1], unpack(ARGV, 2))
`;

/** What a Redis without script flags (before 7.0) answers the script above. */
const NO_SCRIPT_FLAGS = /Error compiling script|shebang/i;

/**
 * `command key ...args` even at Redis's memory limit, as a script flagged `allow-oom`: for the few
 * writes that must not be refused there (they grow nothing, or record what would otherwise be lost),
 * each caller saying why. A Redis older than 7.0 cannot run flagged scripts: it gets the plain command.
 */
export async function writePastLimit(
  redis: Pick<Redis, 'eval' | 'call'>,
  command: string,
  key: string,
  args: (string | number)[],
): Promise<unknown> {
  try {
    return await redis.eval(PAST_LIMIT, 1, key, command, ...args);
  } catch (err) {
    if (!(err instanceof Error && NO_SCRIPT_FLAGS.test(err.message))) throw err;
    return redis.call(command, key, ...args);
  }
}
