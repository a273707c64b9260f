import { type RedisConnectionOptions, RedisRoom } from '@sbx/shared';
import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
/** The part of a pino logger the service uses; Fastify's request-free logger fits too. */
export interface WebhookLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): WebhookLogger;
}

import { DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT_MS, type DeliveryOutcome, deliverOnce } from './deliver.js';
import { retryDelayMs } from './retry-policy.js';
import { decodeWebhookSecret, signWebhook } from './signing.js';
import { type HostLookup, parseAllowlist, resolveSafeTarget, WebhookTargetError } from './target-guard.js';

/**
 * Durable webhook delivery on its own BullMQ queue. One logical delivery per sbx job: the body is
 * fixed at enqueue (so every retry sends identical bytes), the `webhook-id` is fixed per logical
 * delivery (so receivers can de-duplicate), and the timestamp and signature are fresh per attempt
 * (so receivers' 5-minute replay window holds over retries that span hours).
 *
 * State lives in the hash `${prefix}:webhook:${jobId}` rather than in BullMQ's job records, which
 * are pruned; the hash has its own TTL. Every write after enqueue is a compare-and-set on
 * `webhook_id` and `state = pending`, so an attempt that was superseded by a redelivery, or that
 * finishes after the delivery already succeeded, cannot overwrite newer state.
 */

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';

/** The delivery hash, parsed. Times are ISO strings; null where nothing happened yet. */
export interface WebhookDeliveryState {
  state: WebhookDeliveryStatus;
  /** Tries of the current logical delivery, including ones the guard refused before connecting. */
  attempts: number;
  last_status: number | null;
  /** `<code>: <detail>`, code one of http_status, redirect, timeout, connection, or a guard code. */
  last_error: string | null;
  last_attempt_at: string | null;
  delivered_at: string | null;
  webhook_id: string;
  url: string;
  /** How many times redeliver() started a new logical delivery. */
  redeliveries: number;
}

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

export interface WebhookService {
  /** Starts the one logical delivery for `jobId`; a repeat call for a known job is a no-op. */
  enqueue(jobId: string, url: string, payload: unknown, signer?: string): Promise<void>;
  /** Sends the stored body again under a fresh webhook-id; false when no delivery is known. */
  redeliver(jobId: string): Promise<boolean>;
  state(jobId: string): Promise<WebhookDeliveryState | null>;
  /** Starts the BullMQ worker that delivers. enqueue() works without it (deliveries then wait). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

interface DeliveryJobData {
  jobId: string;
  webhookId: string;
}

const BACKOFF_TYPE = 'sbx-webhook';
const SEVEN_DAYS_S = 7 * 24 * 3600;

/** A failed attempt; carries the receiver's Retry-After to the backoff strategy. */
class DeliveryAttemptError extends Error {
  override readonly name = 'DeliveryAttemptError';
  constructor(
    message: string,
    readonly retryAfterMs: number | null,
  ) {
    super(message);
  }
}

// Creates the hash unless one exists: a retaken sbx job that enqueues again must not start a second delivery.
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1`;

// Compare-and-set: ARGV[1] webhook_id, ARGV[2] ttl, ARGV[3] attempts increment, then field/value pairs.
const RECORD = `
if redis.call('HGET', KEYS[1], 'webhook_id') ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[1], 'state') ~= 'pending' then return 0 end
redis.call('HINCRBY', KEYS[1], 'attempts', ARGV[3])
if #ARGV > 3 then redis.call('HSET', KEYS[1], unpack(ARGV, 4)) end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1`;

// Starts a new logical delivery: ARGV[1] ttl, ARGV[2] jobId. Returns {new id, old id} or nil.
const REDELIVER = `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local old = redis.call('HGET', KEYS[1], 'webhook_id')
local n = redis.call('HINCRBY', KEYS[1], 'redeliveries', 1)
local id = 'msg_' .. ARGV[2] .. '_' .. n
redis.call('HSET', KEYS[1], 'state', 'pending', 'attempts', 0, 'webhook_id', id,
  'last_status', '', 'last_error', '', 'last_attempt_at', '', 'delivered_at', '')
redis.call('EXPIRE', KEYS[1], ARGV[1])
return {id, old}`;

const orNull = (v: string | undefined) => (v === undefined || v === '' ? null : v);

function parseState(h: Record<string, string>): WebhookDeliveryState | null {
  if (!h.webhook_id) return null;
  const status = orNull(h.last_status);
  return {
    state: (h.state ?? 'pending') as WebhookDeliveryStatus,
    attempts: Number(h.attempts ?? 0),
    last_status: status === null ? null : Number(status),
    last_error: orNull(h.last_error),
    last_attempt_at: orNull(h.last_attempt_at),
    delivered_at: orNull(h.delivered_at),
    webhook_id: h.webhook_id,
    url: h.url ?? '',
    redeliveries: Number(h.redeliveries ?? 0),
  };
}

export function createWebhookService(opts: WebhookServiceOptions): WebhookService {
  const maxAttempts = opts.maxAttempts ?? 12;
  const schedule = { baseDelayMs: opts.baseDelayMs ?? 5000, maxDelayMs: opts.maxDelayMs ?? 2 * 3600 * 1000 };
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxResponseBytes = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const ttl = opts.stateTtlSeconds ?? SEVEN_DAYS_S;
  const deliver = opts.deliver ?? deliverOnce;
  const log = opts.log.child({ component: 'webhooks' });

  // Configuration mistakes stop the service at creation, not at the first delivery hours later.
  if (decodeWebhookSecret(opts.secret).length < 24) throw new TypeError('webhook secret must hold at least 24 bytes');
  parseAllowlist(opts.allowlist);
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new TypeError('maxAttempts must be a positive integer');

  const stateKey = (jobId: string) => `${opts.prefix}:webhook:${jobId}`;
  const redis = new Redis({ ...opts.connection, maxRetriesPerRequest: null });
  redis.on('error', (err) => log.warn({ err: err.message }, 'webhook state connection error'));
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
  let worker: Worker<DeliveryJobData> | undefined;
  // Redis at its memory limit refuses the worker's every fetch, which BullMQ retries at once: paused until
  // there is room, with one log line for the spell.
  const room = new RedisRoom(redis, {
    onFull: () => {
      log.error({}, 'Redis is at its memory limit (maxmemory): no webhook deliveries until it has room');
      void worker?.pause(true);
    },
    onRoom: () => {
      log.info({}, 'Redis has room again: webhook deliveries resume');
      void worker?.resume();
    },
  });

  /** Compare-and-set on the current delivery; false when superseded or already finished. */
  async function record(
    jobId: string,
    webhookId: string,
    attemptsIncrement: number,
    fields: Record<string, string>,
  ): Promise<boolean> {
    const pairs = Object.entries(fields).flat();
    const done = await redis.eval(RECORD, 1, stateKey(jobId), webhookId, ttl, attemptsIncrement, ...pairs);
    return done === 1;
  }

  async function addDeliveryJob(jobId: string, webhookId: string) {
    // The BullMQ job id is the webhook-id: adding the same logical delivery twice is ignored by BullMQ.
    await queue.add('deliver', { jobId, webhookId }, { jobId: webhookId });
  }

  async function attempt(target: string, body: string, webhookId: string, secret: string): Promise<DeliveryOutcome> {
    const started = performance.now();
    let resolved: Awaited<ReturnType<typeof resolveSafeTarget>>;
    try {
      resolved = await resolveSafeTarget(target, {
        allowlist: opts.allowlist,
        ...(opts.lookup ? { lookup: opts.lookup } : {}),
      });
    } catch (err) {
      if (!(err instanceof WebhookTargetError) || err.code !== 'unresolvable') throw err;
      // DNS trouble is often passing: an ordinary failed attempt, retried on schedule.
      const durationMs = Math.round(performance.now() - started);
      return {
        ok: false,
        status: null,
        retryAfterMs: null,
        error: `unresolvable: ${err.message}`,
        durationMs,
        responseBytes: 0,
      };
    }
    const timestamp = Math.floor(Date.now() / 1000);
    return deliver({
      ...resolved,
      body,
      timeoutMs,
      maxResponseBytes,
      headers: {
        'webhook-id': webhookId,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signWebhook(secret, webhookId, timestamp, body),
      },
    });
  }

  async function process(job: Job<DeliveryJobData>) {
    const { jobId, webhookId } = job.data;
    const current = await redis.hgetall(stateKey(jobId));
    if (current.webhook_id !== webhookId || current.state !== 'pending' || current.body === undefined) {
      // Superseded by a redelivery, already finished, or expired: nothing to send under this id.
      return { skipped: true };
    }
    const attemptNo = job.attemptsMade + 1;
    const jobLog = log.child({ job: jobId, webhook_id: webhookId, attempt: attemptNo });
    const now = () => new Date().toISOString();
    let outcome: DeliveryOutcome;
    try {
      const secret = (current.signer && opts.secretFor?.(current.signer)) || opts.secret;
      outcome = await attempt(current.url ?? '', current.body, webhookId, secret);
    } catch (err) {
      if (!(err instanceof WebhookTargetError)) throw err;
      // A refused or malformed target will not get better by waiting: fail for good, no retries.
      await record(jobId, webhookId, 1, {
        state: 'failed',
        last_status: '',
        last_error: `${err.code}: ${err.message}`,
        last_attempt_at: now(),
      });
      jobLog.warn({ code: err.code, reason: err.message }, 'webhook target refused');
      throw new UnrecoverableError(`${err.code}: ${err.message}`);
    }
    if (outcome.ok) {
      const at = now();
      await record(jobId, webhookId, 1, {
        state: 'delivered',
        last_status: String(outcome.status),
        last_error: '',
        last_attempt_at: at,
        delivered_at: at,
      });
      jobLog.info({ status: outcome.status, ms: outcome.durationMs }, 'webhook delivered');
      return { skipped: false, status: outcome.status };
    }
    const final = attemptNo >= maxAttempts;
    await record(jobId, webhookId, 1, {
      state: final ? 'failed' : 'pending',
      last_status: outcome.status === null ? '' : String(outcome.status),
      last_error: outcome.error ?? 'unknown',
      last_attempt_at: now(),
    });
    jobLog.warn({ status: outcome.status, error: outcome.error, final }, 'webhook attempt failed');
    throw new DeliveryAttemptError(outcome.error ?? 'delivery failed', outcome.retryAfterMs);
  }

  return {
    async enqueue(jobId, url, payload, signer) {
      // BullMQ ids may not contain ':', and ours embed the job id.
      if (!jobId || jobId.includes(':')) throw new TypeError(`unusable job id for a webhook: ${JSON.stringify(jobId)}`);
      const webhookId = `msg_${jobId}`;
      const body = JSON.stringify({ type: 'job.completed', timestamp: new Date().toISOString(), data: payload });
      const fields = {
        state: 'pending',
        attempts: 0,
        webhook_id: webhookId,
        url,
        body,
        redeliveries: 0,
        ...(signer ? { signer } : {}),
      };
      const created = await redis.eval(CREATE, 1, stateKey(jobId), ttl, ...Object.entries(fields).flat());
      if (created === 1) return addDeliveryJob(jobId, webhookId);
      // Known already. If it is still pending, re-adding heals a crash between the hash and the queue
      // write (BullMQ ignores the add when the job exists); finished deliveries are left alone.
      const existing = parseState(await redis.hgetall(stateKey(jobId)));
      if (existing?.state === 'pending') await addDeliveryJob(jobId, existing.webhook_id);
    },

    async redeliver(jobId) {
      const ids = (await redis.eval(REDELIVER, 1, stateKey(jobId), ttl, jobId)) as [string, string] | null;
      if (!ids) return false;
      const [webhookId, previous] = ids;
      // An older delivery still waiting for a retry would only be skipped later; drop it now.
      // An active one cannot be removed (locked) and its result is discarded by the compare-and-set.
      await queue.remove(previous).catch(() => 0);
      await addDeliveryJob(jobId, webhookId);
      log.info({ job: jobId, webhook_id: webhookId }, 'webhook redelivery queued');
      return true;
    },

    async state(jobId) {
      return parseState(await redis.hgetall(stateKey(jobId)));
    },

    async start() {
      if (worker) return;
      worker = new Worker<DeliveryJobData>(opts.queueName, process, {
        connection: { ...opts.connection, maxRetriesPerRequest: null },
        prefix: opts.prefix,
        concurrency: opts.concurrency ?? 10,
        // The lock must outlive the longest attempt, or a slow receiver gets a duplicate from another worker.
        lockDuration: Math.max(30_000, timeoutMs * 2 + 5_000),
        settings: {
          backoffStrategy: (attemptsMade, _type, err) =>
            retryDelayMs(attemptsMade, err instanceof DeliveryAttemptError ? err.retryAfterMs : null, schedule),
        },
      });
      worker.on('failed', (job, err) => {
        // Backstop for endings the processor did not record itself (an unexpected error on the last
        // attempt, a job failed for stalling too often). BullMQ emits 'failed' for retried attempts
        // too, so only a job that really ended failed counts; the compare-and-set makes a repeat harmless.
        if (!job) return;
        job
          .getState()
          .then((s) =>
            s === 'failed'
              ? record(job.data.jobId, job.data.webhookId, 0, { state: 'failed', last_error: err.message })
              : false,
          )
          .catch(() => {});
      });
      worker.on('error', (err) => {
        if (!room.refused(err)) return log.error({ err }, 'webhook worker error');
        if (!worker?.isPaused()) void worker?.pause(true);
      });
      await worker.waitUntilReady();
    },

    async stop() {
      if (worker) {
        const closing = worker.close();
        // In-flight attempts end within timeoutMs; do not wait for ever on a wedged one.
        const finished = await Promise.race([
          closing.then(() => true),
          new Promise<false>((r) => setTimeout(() => r(false), timeoutMs + 2_000).unref()),
        ]);
        if (!finished) await worker.close(true).catch(() => {});
        worker = undefined;
      }
      room.close();
      await queue.close();
      redis.disconnect();
    },
  };
}
