import type { Redis } from 'ioredis';

/** Announces this worker in a sorted set scored by last-seen time; /readyz and the janitor read it. */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly workerId: string,
    private readonly periodMs: number,
  ) {}

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => {
      this.beat().catch(() => {});
    }, this.periodMs);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    await this.redis.zadd(this.key, Date.now(), this.workerId);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.zrem(this.key, this.workerId).catch(() => {});
  }
}
