import { type Judge0Input, redisKeys } from '@sbx/shared';
import type { Redis } from 'ioredis';

/**
 * A Judge0 token is our job id (both are random UUIDs), so GET /jobs/:id reads the same job and no
 * mapping can go stale. What Judge0 keeps and we do not (expected_output, its limits as sent, the
 * source for `fields=*`) is this record, `<prefix>:judge0:<token>`, kept as long as the result: saved
 * here for twice the result's TTL (how long the job waits is not known yet), and set to the result's
 * own TTL when the result is stored (the worker's ResultStore, or a cancel of a queued job).
 */
export class Judge0Records {
  constructor(
    private readonly redis: Pick<Redis, 'set' | 'get' | 'mget'>,
    private readonly prefix: string,
    private readonly ttlSeconds: number,
  ) {}

  private key(token: string) {
    return redisKeys(this.prefix).judge0(token);
  }

  async save(token: string, input: Judge0Input): Promise<void> {
    await this.redis.set(this.key(token), JSON.stringify(input), 'EX', 2 * this.ttlSeconds);
  }

  /** Null for a job queued on our own routes: it answers with what it has. */
  async read(token: string): Promise<Judge0Input | null> {
    const raw = await this.redis.get(this.key(token));
    return raw ? (JSON.parse(raw) as Judge0Input) : null;
  }
}
