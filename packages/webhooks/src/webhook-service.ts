import type { RedisConnectionOptions } from '@sbx/shared';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT_MS, deliverOnce, type WebhookMethod } from './deliver.js';
import { deliveryAttempt } from './delivery-attempt.js';
import { type DeliveryJobData, DeliveryProcessor } from './delivery-processor.js';
import { DeliveryStateStore, type WebhookDeliveryState } from './delivery-state.js';
import { DeliveryWorker } from './delivery-worker.js';
import type { WebhookLogger } from './logger.js';
import type { RetrySchedule } from './retry-policy.js';
import { decodeWebhookSecret } from './signing.js';
import { type HostLookup, parseAllowlist } from './target-guard.js';

/**
 * Durable webhook delivery on its own BullMQ queue. One logical delivery per sbx job: the body is
 * fixed at enqueue (so every retry sends identical bytes), the `webhook-id` is fixed per logical
 * delivery (so receivers can de-duplicate), and the timestamp and signature are fresh per attempt
 * (so receivers' 5-minute replay window holds over retries that span hours). The delivery's state
 * is its own hash (see delivery-state.ts), not BullMQ's job records.
 */

export interface WebhookServiceOptions {
  /** From redisConnectionOptions: a plain URL or the Sentinels. */
  connection: RedisConnectionOptions;
  prefix: string;
  queueName: string;
  /** `whsec_` + base64 of at least 24 bytes. */
  secret: string;
  /**
   * A signer's own secret (e.g. a tenant's), looked up at delivery time from the `signer` given to
   * enqueue(); falls back to `secret` when it answers undefined.
   */
  secretFor?: (signer: string) => string | undefined;
  /** CIDRs allowed despite being non-public, e.g. `127.0.0.0/8` for a local receiver. */
  allowlist: string[];
  /** Tries per logical delivery, first one included. Default 12. */
  maxAttempts?: number;
  /** First retry waits up to this (full jitter), doubling per retry. Default 5 s. */
  baseDelayMs?: number;
  /** Ceiling for any one wait, Retry-After included. Default 2 h. */
  maxDelayMs?: number;
  /** Per attempt, connect to last byte. Default 10 s. */
  timeoutMs?: number;
  /** Response bytes read per attempt. Default 64 KiB. */
  maxResponseBytes?: number;
  /** TTL of the state hash, refreshed on every write. Default 7 days. */
  stateTtlSeconds?: number;
  /** Deliveries in flight per worker. Default 10: they wait on the network, not the CPU. */
  concurrency?: number;
  log: WebhookLogger;
  /** Name resolution for the guard; the system resolver by default. */
  lookup?: HostLookup;
  /** The HTTP attempt; deliverOnce by default. A seam for tests and instrumentation. */
  deliver?: typeof deliverOnce;
}

/**
 * How a delivery is sent: our own is a POST of `{type, timestamp, data}`; another API's callback (a
 * Judge0 PUT of the bare submission) is `{ method: 'PUT', envelope: false }`. Signed either way.
 */
export interface WebhookShape {
  method: WebhookMethod;
  /** False: the payload is the whole body. */
  envelope: boolean;
}

export interface WebhookService {
  /** Starts the one logical delivery for `jobId`; a repeat call for a known job is a no-op. */
  enqueue(jobId: string, url: string, payload: unknown, signer?: string, shape?: WebhookShape): Promise<void>;
  /** Sends the stored body again under a fresh webhook-id; false when no delivery is known. */
  redeliver(jobId: string): Promise<boolean>;
  state(jobId: string): Promise<WebhookDeliveryState | null>;
  /** Starts the BullMQ worker that delivers. enqueue() works without it (deliveries then wait). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

const BACKOFF_TYPE = 'sbx-webhook';

/** The options left out, filled in with the defaults their docs name. */
interface Settings {
  maxAttempts: number;
  schedule: RetrySchedule;
  timeoutMs: number;
  maxResponseBytes: number;
  stateTtlSeconds: number;
  concurrency: number;
  deliver: typeof deliverOnce;
}

function withDefaults(opts: WebhookServiceOptions): Settings {
  return {
    maxAttempts: opts.maxAttempts ?? 12,
    schedule: { baseDelayMs: opts.baseDelayMs ?? 5000, maxDelayMs: opts.maxDelayMs ?? 2 * 3600 * 1000 },
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    maxResponseBytes: opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
    stateTtlSeconds: opts.stateTtlSeconds ?? 7 * 24 * 3600,
    concurrency: opts.concurrency ?? 10,
    deliver: opts.deliver ?? deliverOnce,
  };
}

// Configuration mistakes stop the service at creation, not at the first delivery hours later.
function validate(opts: WebhookServiceOptions, settings: Settings): void {
  if (decodeWebhookSecret(opts.secret).length < 24) throw new TypeError('webhook secret must hold at least 24 bytes');
  parseAllowlist(opts.allowlist);
  const { maxAttempts } = settings;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new TypeError('maxAttempts must be a positive integer');
}

function deliveryQueue(opts: WebhookServiceOptions, maxAttempts: number, log: WebhookLogger): Queue<DeliveryJobData> {
  const queue = new Queue<DeliveryJobData>(opts.queueName, {
    connection: { ...opts.connection },
    prefix: opts.prefix,
    defaultJobOptions: {
      attempts: maxAttempts,
      backoff: { type: BACKOFF_TYPE },
      // The state hash is the record; BullMQ's copies only need to outlive a retry or two of debugging.
      removeOnComplete: { age: 3600, count: 10_000 },
      removeOnFail: { age: 86_400, count: 10_000 },
    },
  });
  queue.on('error', (err) => log.warn({ err: err.message }, 'webhook queue connection error'));
  return queue;
}

export function createWebhookService(opts: WebhookServiceOptions): WebhookService {
  const settings = withDefaults(opts);
  const log = opts.log.child({ component: 'webhooks' });
  validate(opts, settings);
  const { connection, prefix, queueName, allowlist, lookup, secret, secretFor } = opts;
  const { maxAttempts, timeoutMs, maxResponseBytes, deliver, concurrency, schedule } = settings;
  const redis = new Redis({ ...connection, maxRetriesPerRequest: null });
  redis.on('error', (err) => log.warn({ err: err.message }, 'webhook state connection error'));
  const store = new DeliveryStateStore(redis, prefix, settings.stateTtlSeconds);
  const queue = deliveryQueue(opts, maxAttempts, log);
  const attempt = deliveryAttempt({ allowlist, lookup, timeoutMs, maxResponseBytes, deliver });
  const processor = new DeliveryProcessor({ store, attempt, maxAttempts, secret, secretFor, log });
  const worker = new DeliveryWorker({
    connection,
    prefix,
    queueName,
    concurrency,
    timeoutMs,
    schedule,
    processor,
    redis,
    log,
  });
  return new QueuedWebhookService({ store, queue, worker, redis, log });
}

interface ServiceParts {
  store: Pick<DeliveryStateStore, 'create' | 'read' | 'startRedelivery'>;
  queue: Pick<Queue<DeliveryJobData>, 'add' | 'remove' | 'close'>;
  worker: Pick<DeliveryWorker, 'start' | 'stop'>;
  /** The state hashes' connection, closed last. */
  redis: Pick<Redis, 'disconnect'>;
  log: Pick<WebhookLogger, 'info'>;
}

/** The service's calls, each on the part it needs: state hash, queue, or worker. */

class QueuedWebhookService implements WebhookService {
  constructor(private readonly parts: ServiceParts) {}

  async enqueue(jobId: string, url: string, payload: unknown, signer?: string, shape?: WebhookShape): Promise<void> {
    // BullMQ ids may not contain ':', and ours embed the job id.
    if (!jobId || jobId.includes(':')) throw new TypeError(`unusable job id for a webhook: ${JSON.stringify(jobId)}`);
    const { store } = this.parts;
    const webhookId = `msg_${jobId}`;
    const body = JSON.stringify(
      shape?.envelope === false
        ? payload
        : { type: 'job.completed', timestamp: new Date().toISOString(), data: payload },
    );
    if (await store.create(jobId, { webhookId, url, body, signer, method: shape?.method }))
      return this.addDeliveryJob(jobId, webhookId);
    // Known already. If it is still pending, re-adding heals a crash between the hash and the queue
    // write (BullMQ ignores the add when the job exists); finished deliveries are left alone.
    const existing = await store.read(jobId);
    if (existing?.state === 'pending') await this.addDeliveryJob(jobId, existing.webhook_id);
  }

  async redeliver(jobId: string): Promise<boolean> {
    const ids = await this.parts.store.startRedelivery(jobId);
    if (!ids) return false;
    // An older delivery still waiting for a retry would only be skipped later; drop it now.
    // An active one cannot be removed (locked) and its result is discarded by the compare-and-set.
    await this.parts.queue.remove(ids.previous).catch(() => 0);
    await this.addDeliveryJob(jobId, ids.webhookId);
    this.parts.log.info({ job: jobId, webhook_id: ids.webhookId }, 'webhook redelivery queued');
    return true;
  }

  state(jobId: string): Promise<WebhookDeliveryState | null> {
    return this.parts.store.read(jobId);
  }

  start(): Promise<void> {
    return this.parts.worker.start();
  }

  async stop(): Promise<void> {
    await this.parts.worker.stop();
    await this.parts.queue.close();
    this.parts.redis.disconnect();
  }

  private async addDeliveryJob(jobId: string, webhookId: string): Promise<void> {
    // The BullMQ job id is the webhook-id: adding the same logical delivery twice is ignored by BullMQ.
    await this.parts.queue.add('deliver', { jobId, webhookId }, { jobId: webhookId });
  }
}
