import { RedisRoom } from '@sbx/shared';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { LockKeeper } from './lock-keeper.js';

export interface MemoryLimitContext {
  redis: Pick<Redis, 'info'>;
  /** Keeps the running jobs' locks while Redis refuses BullMQ's own renewal. */
  locks: Pick<LockKeeper, 'keep'>;
  /** The taking of jobs: paused at the limit, resumed once there is room unless something else holds it. */
  queue: { pause(): Promise<void>; resume(): void; readonly closing: boolean };
  health: { publish(): Promise<void>; readonly ok: boolean };
  engineUp: () => boolean;
  log: Pick<Logger, 'info' | 'error'>;
  /** How often INFO memory is read while Redis is full. Default 1000 ms (RedisRoom's). */
  pollMs?: number;
}

/**
 * What this worker does while Redis is at its memory limit (maxmemory, noeviction): it takes no new
 * jobs, keeps the locks of those it runs (BullMQ's renewal is refused there), and their results wait
 * for room (ResultRecorder). The room it returns is what learns of the limit, from refused writes.
 */
export function watchMemoryLimit(ctx: MemoryLimitContext): RedisRoom {
  const { locks, queue, log } = ctx;
  return new RedisRoom(ctx.redis, {
    ...(ctx.pollMs !== undefined ? { pollMs: ctx.pollMs } : {}),
    onFull: () => {
      log.error(
        'Redis is at its memory limit (maxmemory): no new jobs until it has room; running jobs keep their locks and their results wait',
      );
      locks.keep(true);
      void queue.pause();
    },
    onRoom: () => {
      log.info('Redis has room again');
      locks.keep(false);
      // A health stored while Redis was full was refused: without it /readyz never counts this worker.
      void ctx.health.publish();
      if (ctx.engineUp() && ctx.health.ok && !queue.closing) queue.resume();
    },
  });
}
