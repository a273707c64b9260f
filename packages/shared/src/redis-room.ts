import type { Redis } from 'ioredis';
import { hasRoom, isRedisOomError, readRedisMemory } from './redis-memory.js';

export interface RedisRoomOptions {
  /** How often INFO memory is read while Redis is full. */
  pollMs?: number;
  /** Redis has just refused a write for memory (once per spell at the limit). */
  onFull?: () => void;
  /** Redis has room again. */
  onRoom?: () => void;
}

/** Raised to what waits for room when the process stops first. */
export class RedisRoomClosedError extends Error {
  constructor() {
    super('stopped while Redis was at its memory limit');
    this.name = 'RedisRoomClosedError';
  }
}

/**
 * What one process knows of Redis's room: full from the first write Redis refused for memory until
 * INFO memory shows room again. Learning it from refusals costs nothing while there is room; only a
 * full Redis is polled.
 *
 * It exists for what must not fail at the limit: a BullMQ worker retries a refused moveToActive at
 * once (measured: about 3,400 times a second, each an 'error' event), so it is paused while full; and
 * a finished run's result waits here for room (`retrying`) instead of failing an attempt it earned.
 */
export class RedisRoom {
  private isFull = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private waiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  private readonly pollMs: number;

  constructor(
    private readonly redis: Pick<Redis, 'info'>,
    private readonly opts: RedisRoomOptions = {},
  ) {
    this.pollMs = opts.pollMs ?? 1000;
  }

  get full(): boolean {
    return this.isFull;
  }

  /** True when `err` is Redis refusing a write for memory: Redis is then known to be full. */
  refused(err: unknown): boolean {
    if (!isRedisOomError(err)) return false;
    if (!this.isFull && !this.closed) {
      this.isFull = true;
      this.opts.onFull?.();
      this.schedule();
    }
    return true;
  }

  /** Resolves once Redis has room (at once unless it is known to be full); rejects if closed first. */
  room(): Promise<void> {
    if (this.closed) return Promise.reject(new RedisRoomClosedError());
    if (!this.isFull) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /**
   * Runs `work`, and again each time Redis has room after refusing it for memory, for as long as it
   * takes; any other failure is thrown as it was. `onWait` hears of the first refusal.
   */
  async retrying<T>(work: () => Promise<T>, onWait?: (err: Error) => void): Promise<T> {
    let waited = false;
    for (;;) {
      try {
        return await work();
      } catch (err) {
        if (!this.refused(err)) throw err;
        if (!waited) onWait?.(err as Error);
        waited = true;
        await this.room();
      }
    }
  }

  /** Stops polling; whatever waits for room is rejected with RedisRoomClosedError. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const w of this.waiters.splice(0)) w.reject(new RedisRoomClosedError());
  }

  private schedule(): void {
    if (this.closed) return;
    // Not unref'd: what waits for room must keep the process alive; close() ends it.
    this.timer = setTimeout(() => void this.poll(), this.pollMs);
  }

  private async poll(): Promise<void> {
    // Unreadable (Redis away): still full as far as anyone knows; look again.
    const roomy = await readRedisMemory(this.redis).then(hasRoom, () => false);
    if (this.closed) return;
    if (!roomy) return this.schedule();
    this.isFull = false;
    this.opts.onRoom?.();
    for (const w of this.waiters.splice(0)) w.resolve();
  }
}
