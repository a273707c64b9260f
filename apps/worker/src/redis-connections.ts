import { type RedisConnectionConfig, redisConnectionOptions, type WorkerConfig } from '@sbx/shared';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** The worker's connections to Redis: one per use that must not wait behind another. */
export interface RedisConnections {
  /** Every command of the worker's own: results, run logs, health, heartbeat, the fair queue, slots. */
  readonly commands: Redis;
  /** The BullMQ worker's. BullMQ leaves a connection it was handed open on close: we close it. */
  readonly queue: Redis;
  /** Subscribed to the cancel channel; a subscribed connection takes no other command. */
  readonly cancel: Redis;
  /**
   * SBX_REDIS_WAIT_REPLICAS's WAIT, on a connection of its own so a slow one never holds the
   * heartbeat; null when the setting is 0.
   */
  readonly fence: Redis | null;
  /** Closes all of them at once: whatever they still had queued is dropped. */
  disconnect(): void;
}

/** Opens the worker's connections; each logs its errors (ioredis reconnects by itself). */
export function openRedisConnections(
  config: RedisConnectionConfig & Pick<WorkerConfig, 'redisWaitReplicas'>,
  log: Pick<Logger, 'warn'>,
): RedisConnections {
  const commands = new Redis(redisConnectionOptions(config, { maxRetriesPerRequest: null }));
  const queue = commands.duplicate();
  const cancel = commands.duplicate();
  const fence = config.redisWaitReplicas > 0 ? commands.duplicate() : null;
  // Without a listener each failed reconnect is an "Unhandled error event". BullMQ listens on its own.
  const named: [string, Redis | null][] = [
    ['replica fence', fence],
    ['results', commands],
    ['cancel channel', cancel],
  ];
  for (const [connection, client] of named)
    client?.on('error', (err) => log.warn({ err: err.message, connection }, 'redis connection error'));
  return {
    commands,
    queue,
    cancel,
    fence,
    disconnect() {
      queue.disconnect();
      cancel.disconnect();
      fence?.disconnect();
      commands.disconnect();
    },
  };
}
