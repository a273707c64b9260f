import type { Judge0Input } from '@sbx/shared';
import type { Redis } from 'ioredis';

/**
 * A Judge0 token is our job id (both are random UUIDs), so GET /jobs/:id reads the same job and no
 * mapping can go stale. What Judge0 keeps and we do not (expected_output, its limits as sent, the
 * source for `fields=*`) is this record, `<prefix>:judge0:<token>`, kept as long as the result.
 */
export class Judge0Records {
  constructor(
    private readonly redis: Pick<Redis, 'set' | 'get' | 'mget'>,
    private readonly prefix: string,
    private readonly ttlSeconds: number,
  ) {}

  private key(token: string) {
    return `${this.prefix}:judge0:${token}`;
  }

  async save(token: string, input: Judge0Input): Promise<void> {
    await this.redis.set(this.key(token), JSON.stringify(input), 'EX', this.ttlSeconds);
  }

  /** Null for a job queued on our own routes: it answers with what it has. */
  async read(token: string): Promise<Judge0Input | null> {
    const raw = await this.redis.get(this.key(token));
    return raw ? (JSON.parse(raw) as Judge0Input) : null;
  }
}
