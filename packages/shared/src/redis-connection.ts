import type { Redis, RedisOptions } from 'ioredis';
import type { SharedConfig } from './config.js';

export type RedisConnectionConfig = Pick<
  SharedConfig,
  'redisUrl' | 'redisSentinels' | 'redisSentinelName' | 'redisSentinelPassword'
>;

/**
 * ioredis' options as both ioredis and BullMQ take them: ioredis 6 lets retryStrategy be null, which
 * BullMQ's own copy of the type does not allow.
 */
export type RedisConnectionOptions = Omit<RedisOptions, 'retryStrategy'> & {
  retryStrategy?: (times: number) => number | undefined | null;
};

/** What SBX_REDIS_URL says, in ioredis' terms (the parts ioredis' own URL parsing would take). */
function fromUrl(raw: string): RedisConnectionOptions {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TypeError(`SBX_REDIS_URL is not a URL: ${raw}`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    throw new TypeError(`SBX_REDIS_URL must be redis:// or rediss://, got ${url.protocol}`);
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : undefined;
  if (db !== undefined && !Number.isInteger(db))
    throw new TypeError(`SBX_REDIS_URL: "${url.pathname}" is not a db number`);
  return {
    host: url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: url.port ? Number(url.port) : 6379,
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(db !== undefined ? { db } : {}),
    ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/**
 * The one place config becomes a Redis connection: every client of the API, the worker and the
 * webhook queue goes through it, so a Sentinel setup cannot be half applied. `extra` carries each
 * call site's own behaviour (offline queue, retries) and wins over what is derived here.
 *
 * With Sentinels the primary's address comes from them and follows a failover; the URL still gives
 * the primary's credentials, db and TLS.
 */
export function redisConnectionOptions(
  config: RedisConnectionConfig,
  extra: RedisConnectionOptions = {},
): RedisConnectionOptions {
  const url = fromUrl(config.redisUrl);
  if (config.redisSentinels.length === 0) return { ...url, ...extra };
  const { host: _host, port: _port, tls, ...auth } = url;
  return {
    ...auth,
    sentinels: config.redisSentinels.map(({ host, port }) => ({ host, port })),
    name: config.redisSentinelName,
    ...(config.redisSentinelPassword ? { sentinelPassword: config.redisSentinelPassword } : {}),
    ...(tls ? { tls, enableTLSForSentinelMode: true } : {}),
    // A primary demoted while this client stayed connected (cut off, then back as a replica)
    // refuses writes with READONLY: reconnecting asks the Sentinels again. Not ioredis'
    // failoverDetector: its +switch-master handler cancels a reconnect already under way (the
    // primary died first) and leaves the client closed for good (seen with ioredis 6.0.0).
    reconnectOnError: (err: Error) => err.message.startsWith('READONLY'),
    ...extra,
  };
}

/** A WAIT that ran short: the write is on the primary, not yet on the replicas asked for. */
export class ReplicationShortError extends Error {
  constructor(
    readonly acknowledged: number,
    readonly wanted: number,
    readonly timeoutMs: number,
  ) {
    super(`${acknowledged} of ${wanted} Redis replicas confirmed the write within ${timeoutMs} ms`);
    this.name = 'ReplicationShortError';
  }
}

/**
 * Makes writes already acknowledged by the primary durable on `replicas` replicas before the caller
 * acknowledges them in turn (Redis replication is asynchronous: a failover loses what the new
 * primary had not received).
 *
 * WAIT counts the writes of the connection it runs on, and a shared connection stuck in a WAIT holds
 * every command queued behind it. So this keeps a connection of its own, and each confirm() writes a
 * fence key on it and WAITs for that: the replication stream is one ordered log, so a replica that has
 * the fence has every write the primary acknowledged before the fence was sent, on any connection.
 * Callers that arrive while a WAIT is out share the next one (a group commit): a replica outage
 * costs each caller at most two timeouts, not a queue of them.
 */
export class ReplicaFence {
  private inFlight: Promise<number> | null = null;
  private next: Promise<number> | null = null;

  constructor(
    private readonly connection: Redis,
    private readonly fenceKey: string,
    readonly replicas: number,
    readonly timeoutMs: number,
  ) {}

  /** Resolves once every write acknowledged before the call is on the replicas; throws ReplicationShortError if not. */
  async confirm(): Promise<void> {
    if (this.replicas <= 0) return;
    const acknowledged = await this.join();
    if (acknowledged < this.replicas) throw new ReplicationShortError(acknowledged, this.replicas, this.timeoutMs);
  }

  /** The next WAIT not yet sent: one sent already may have fenced before this caller's write. */
  private join(): Promise<number> {
    if (this.next) return this.next;
    const previous = this.inFlight ?? Promise.resolve(0);
    const group: Promise<number> = previous
      .catch(() => 0)
      .then(() => {
        this.next = null;
        this.inFlight = group;
        return this.fence();
      })
      .finally(() => {
        if (this.inFlight === group) this.inFlight = null;
      });
    this.next = group;
    return group;
  }

  private async fence(): Promise<number> {
    const replies = await this.connection.pipeline().incr(this.fenceKey).wait(this.replicas, this.timeoutMs).exec();
    for (const [err] of replies ?? []) if (err) throw err;
    return Number(replies?.[1]?.[1] ?? 0);
  }
}

/**
 * The fence of SBX_REDIS_WAIT_REPLICAS, null when it is 0. `connection` must be the fence's own
 * (a duplicate nothing else uses), already connected or free to connect on first use.
 */
export function replicaFenceFor(
  connection: Redis,
  config: Pick<SharedConfig, 'prefix' | 'redisWaitReplicas' | 'redisWaitTimeoutMs'>,
): ReplicaFence | null {
  if (config.redisWaitReplicas <= 0) return null;
  return new ReplicaFence(
    connection,
    `${config.prefix}:replication-fence`,
    config.redisWaitReplicas,
    config.redisWaitTimeoutMs,
  );
}
