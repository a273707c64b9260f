import type { JobData, RedisConnectionOptions } from '@sbx/shared';
import { Queue, QueueEvents } from 'bullmq';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    queue: Queue<JobData>;
    queueEvents: QueueEvents;
  }
}

export interface QueuePluginOptions {
  /** From redisConnectionOptions: a plain URL or the Sentinels. */
  connection: RedisConnectionOptions;
  name: string;
  prefix: string;
}

/**
 * BullMQ defaults for every job: retries only for infrastructure failures
 * (3 attempts, exponential from 1 s), bounded retention (results live in their
 * own keys with a TTL, so BullMQ's copies can go early). A finished job's copy
 * holds only its receipt (jobReceipt: ResultStore cuts it when the result is stored).
 */
export const DEFAULT_JOB_OPTIONS = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { age: 3600, count: 10_000 },
  removeOnFail: { age: 86_400, count: 10_000 },
} as const;

export default fp<QueuePluginOptions>(
  async (app, opts) => {
    const queue = new Queue<JobData>(opts.name, {
      connection: { ...opts.connection, enableOfflineQueue: false, maxRetriesPerRequest: 1 },
      prefix: opts.prefix,
      defaultJobOptions: DEFAULT_JOB_OPTIONS,
    });
    queue.on('error', (err) => app.log.warn({ err: err.message }, 'queue connection error'));
    // Each request waiting for a result (POST /run, GET /jobs/:id?wait_ms) holds one 'closing'
    // listener for its wait and drops it after: many at once are callers, not a leak.
    queue.setMaxListeners(0);
    const queueEvents = new QueueEvents(opts.name, { connection: { ...opts.connection }, prefix: opts.prefix });
    queueEvents.on('error', (err) => app.log.warn({ err: err.message }, 'queue events connection error'));
    await Promise.all([queue.waitUntilReady(), queueEvents.waitUntilReady()]);
    app.decorate('queue', queue);
    app.decorate('queueEvents', queueEvents);
    app.addHook('onClose', async () => {
      await Promise.allSettled([queueEvents.close(), queue.close()]);
    });
  },
  { name: 'queue' },
);
