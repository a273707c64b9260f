import { type RedisConnectionOptions, RedisRoom } from '@sbx/shared';
import { type BackoffStrategy, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { DeliveryAttemptError, type DeliveryJobData, type DeliveryProcessor } from './delivery-processor.js';
import type { WebhookLogger } from './logger.js';
import { type RetrySchedule, retryDelayMs } from './retry-policy.js';

export interface DeliveryWorkerOptions {
  connection: RedisConnectionOptions;
  prefix: string;
  queueName: string;
  /** Deliveries in flight at once. */
  concurrency: number;
  /** Per attempt, connect to last byte: the job lock and stop() are sized from it. */
  timeoutMs: number;
  schedule: RetrySchedule;
  processor: Pick<DeliveryProcessor, 'process' | 'jobFailed'>;
  /** Polled for INFO memory while Redis is full. */
  redis: Pick<Redis, 'info'>;
  log: Pick<WebhookLogger, 'info' | 'error'>;
}

/** Waits per the retry schedule, or as long as the receiver's Retry-After asked (within the ceiling). */
export function deliveryBackoff(schedule: RetrySchedule): BackoffStrategy {
  return (attemptsMade, _type, err) =>
    retryDelayMs(attemptsMade, err instanceof DeliveryAttemptError ? err.retryAfterMs : null, schedule);
}

/** The BullMQ worker that delivers, paused while Redis is at its memory limit. */
export class DeliveryWorker {
  private worker: Worker<DeliveryJobData> | undefined;
  // Redis at its memory limit refuses the worker's every fetch, which BullMQ retries at once: paused until
  // there is room, with one log line for the spell.
  private readonly room: RedisRoom;

  constructor(private readonly opts: DeliveryWorkerOptions) {
    const { log } = opts;
    this.room = new RedisRoom(opts.redis, {
      onFull: () => {
        log.error({}, 'Redis is at its memory limit (maxmemory): no webhook deliveries until it has room');
        void this.worker?.pause(true);
      },
      onRoom: () => {
        log.info({}, 'Redis has room again: webhook deliveries resume');
        void this.worker?.resume();
      },
    });
  }

  async start(): Promise<void> {
    if (this.worker) return;
    const { opts } = this;
    const worker = new Worker<DeliveryJobData>(opts.queueName, (job) => opts.processor.process(job), {
      connection: { ...opts.connection, maxRetriesPerRequest: null },
      prefix: opts.prefix,
      concurrency: opts.concurrency,
      // The lock must outlive the longest attempt, or a slow receiver gets a duplicate from another worker.
      lockDuration: Math.max(30_000, opts.timeoutMs * 2 + 5_000),
      settings: { backoffStrategy: deliveryBackoff(opts.schedule) },
    });
    this.worker = worker;
    worker.on('failed', (job, err) => {
      if (job) opts.processor.jobFailed(job, err).catch(() => {});
    });
    worker.on('error', (err) => {
      if (!this.room.refused(err)) return opts.log.error({ err }, 'webhook worker error');
      if (!this.worker?.isPaused()) void this.worker?.pause(true);
    });
    await worker.waitUntilReady();
  }

  /** Stops the worker (if started) and the room's polling. */
  async stop(): Promise<void> {
    const { worker } = this;
    if (worker) {
      const closing = worker.close();
      // In-flight attempts end within timeoutMs; do not wait for ever on a wedged one.
      const finished = await Promise.race([
        closing.then(() => true),
        new Promise<false>((r) => setTimeout(() => r(false), this.opts.timeoutMs + 2_000).unref()),
      ]);
      if (!finished) await worker.close(true).catch(() => {});
      this.worker = undefined;
    }
    this.room.close();
  }
}
