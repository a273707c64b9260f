import { writePastLimit } from '@sbx/shared';
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
    // Even at Redis's memory limit: a beat moves this worker's score and grows nothing. Refused there, a
    // worker would look dead after SBX_WORKER_STALE_MS of a full Redis: the other workers' janitors
    // would remove its running sandboxes, and /readyz would blame the workers.
    await writePastLimit(this.redis, 'ZADD', this.key, [Date.now(), this.workerId]);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.zrem(this.key, this.workerId).catch(() => {});
  }
}
