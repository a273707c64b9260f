import type { WebhookMethod } from './deliver.js';

/**
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

/** A logical delivery as enqueue() starts it. */
export interface NewDelivery {
  webhookId: string;
  url: string;
  /** Fixed here, so every retry sends identical bytes. */
  body: string;
  /** Whose secret signs it; the service's own when absent. */
  signer?: string | undefined;
  /** Absent: POST. */
  method?: WebhookMethod | undefined;
}

/** What an attempt sends: the current delivery's stored target, bytes and signer. */
export interface PendingDelivery {
  url: string;
  body: string;
  signer: string | undefined;
  /** Absent: POST. */
  method?: WebhookMethod;
}

/** The Redis commands the store uses; an ioredis client fits. */
export interface DeliveryStateRedis {
  eval(script: string, numkeys: number, ...args: (string | number)[]): Promise<unknown>;
  hgetall(key: string): Promise<Record<string, string>>;
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

/** The hash as HGETALL returns it, parsed; null when there is none (never created, or expired). */
export function parseDeliveryState(h: Record<string, string>): WebhookDeliveryState | null {
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

/** The delivery hashes under one prefix; each write refreshes the hash's TTL. */
export class DeliveryStateStore {
  constructor(
    private readonly redis: DeliveryStateRedis,
    private readonly prefix: string,
    private readonly ttlSeconds: number,
  ) {}

  /** Starts the delivery's hash; false when the job has one already. */
  async create(jobId: string, delivery: NewDelivery): Promise<boolean> {
    const fields = {
      state: 'pending',
      attempts: 0,
      webhook_id: delivery.webhookId,
      url: delivery.url,
      body: delivery.body,
      redeliveries: 0,
      ...(delivery.signer ? { signer: delivery.signer } : {}),
      ...(delivery.method && delivery.method !== 'POST' ? { method: delivery.method } : {}),
    };
    const created = await this.redis.eval(
      CREATE,
      1,
      this.key(jobId),
      this.ttlSeconds,
      ...Object.entries(fields).flat(),
    );
    return created === 1;
  }

  /** Compare-and-set on the current delivery; false when superseded or already finished. */
  async record(
    jobId: string,
    webhookId: string,
    attemptsIncrement: number,
    fields: Record<string, string>,
  ): Promise<boolean> {
    const pairs = Object.entries(fields).flat();
    const done = await this.redis.eval(
      RECORD,
      1,
      this.key(jobId),
      webhookId,
      this.ttlSeconds,
      attemptsIncrement,
      ...pairs,
    );
    return done === 1;
  }

  /** Resets the hash to a new pending delivery under a fresh webhook-id; null when there is no hash. */
  async startRedelivery(jobId: string): Promise<{ webhookId: string; previous: string } | null> {
    const ids = (await this.redis.eval(REDELIVER, 1, this.key(jobId), this.ttlSeconds, jobId)) as
      | [string, string]
      | null;
    return ids && { webhookId: ids[0], previous: ids[1] };
  }

  async read(jobId: string): Promise<WebhookDeliveryState | null> {
    return parseDeliveryState(await this.redis.hgetall(this.key(jobId)));
  }

  /** What to send under `webhookId`; null when that delivery is no longer the current, pending one. */
  async pending(jobId: string, webhookId: string): Promise<PendingDelivery | null> {
    const h = await this.redis.hgetall(this.key(jobId));
    // Superseded by a redelivery, already finished, or expired: nothing to send under this id.
    if (h.webhook_id !== webhookId || h.state !== 'pending' || h.body === undefined) return null;
    return {
      url: h.url ?? '',
      body: h.body,
      signer: h.signer,
      ...(h.method === 'PUT' ? { method: 'PUT' as const } : {}),
    };
  }

  private key(jobId: string): string {
    return `${this.prefix}:webhook:${jobId}`;
  }
}
