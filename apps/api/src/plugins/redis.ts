import type { RedisConnectionOptions } from '@sbx/shared';
import fp from 'fastify-plugin';
import { Redis } from 'ioredis';

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis;
  }
}

/** One Redis connection for results and heartbeats. Fails fast when Redis is down instead of queueing commands. */
export default fp<{ connection: RedisConnectionOptions }>(
  async (app, { connection }) => {
    const redis = new Redis({ ...connection, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    redis.on('error', (err) => app.log.warn({ err: err.message }, 'redis connection error'));
    await redis.connect();
    app.decorate('redis', redis);
    app.addHook('onClose', async () => {
      redis.disconnect();
    });
  },
  { name: 'redis' },
);
