import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isJobId } from '@sbx/shared';
import type { Redis } from 'ioredis';
import { orUnavailable } from './unavailable.js';

/**
 * How long an `events_url` works. Long enough for a job to wait its turn in a busy queue and for
 * EventSource's reconnects while it runs; short enough that a leaked URL soon stops working.
 */
export const EVENTS_TOKEN_TTL_SECONDS = 3600;

/** What a valid token grants: watching this one job, as this tenant. */
export interface EventsGrant {
  jobId: string;
  tenantId: string;
}

/**
 * Tokens for `GET /jobs/:id/events?token=`, for EventSource, which cannot send an Authorization
 * header. A token names one job and its tenant, expires, and is an HMAC under a secret every API
 * replica shares: the first replica to start writes a random one to Redis (SET NX), so operators
 * have nothing to configure. Deleting that key revokes every outstanding token at the next start.
 */
export class EventTokens {
  private secret: Promise<Buffer> | null = null;

  /** `key`: redisKeys().eventsTokenSecret. Nothing is read until the first token is made or checked. */
  constructor(
    private readonly redis: Pick<Redis, 'set' | 'get'>,
    private readonly key: string,
  ) {}

  /**
   * Reads the secret if it is not held yet. Routes that answer an `events_url` await this before
   * they queue anything: once a job is queued, its answer must not fail on Redis (a 500 for a job
   * that will run). Cached for good after the first success, so this costs nothing after it.
   */
  async ready(): Promise<void> {
    await this.secretKey();
  }

  /** A job's `events_url`: its events path with a token for it. */
  async eventsUrl(grant: EventsGrant): Promise<string> {
    return `/jobs/${encodeURIComponent(grant.jobId)}/events?token=${await this.sign(grant)}`;
  }

  /** A token for one job, valid for EVENTS_TOKEN_TTL_SECONDS from `nowMs`. */
  async sign(grant: EventsGrant, nowMs = Date.now()): Promise<string> {
    const expires = Math.floor(nowMs / 1000) + EVENTS_TOKEN_TTL_SECONDS;
    const claims = Buffer.from(JSON.stringify({ j: grant.jobId, t: grant.tenantId, e: expires })).toString('base64url');
    return `${claims}.${await this.mac(claims)}`;
  }

  /** The grant a token carries for `jobId`; null when it is forged, expired, or for another job. */
  async verify(token: string, jobId: string, nowMs = Date.now()): Promise<EventsGrant | null> {
    const [claims, mac, extra] = token.split('.');
    if (!claims || !mac || extra !== undefined) return null;
    const expected = Buffer.from(await this.mac(claims));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    const parsed = parseClaims(claims);
    if (!parsed || parsed.j !== jobId || parsed.e * 1000 <= nowMs) return null;
    return { jobId: parsed.j, tenantId: parsed.t };
  }

  private async mac(claims: string): Promise<string> {
    return createHmac('sha256', await this.secretKey())
      .update(`events:${claims}`)
      .digest('base64url');
  }

  /** Read once; a failed read (Redis away) is not kept, so the next request tries again. */
  private secretKey(): Promise<Buffer> {
    this.secret ??= this.readSecret().catch((err: unknown) => {
      this.secret = null;
      throw err;
    });
    return this.secret;
  }

  private async readSecret(): Promise<Buffer> {
    await this.redis.set(this.key, randomBytes(32).toString('base64'), 'NX');
    const stored = await this.redis.get(this.key);
    if (!stored) throw new Error(`the events token secret ${this.key} could not be read back from Redis`);
    return Buffer.from(stored, 'base64');
  }
}

function parseClaims(claims: string): { j: string; t: string; e: number } | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(claims, 'base64url').toString('utf8'));
    if (typeof value !== 'object' || value === null) return null;
    const { j, t, e } = value as Record<string, unknown>;
    return typeof j === 'string' && typeof t === 'string' && typeof e === 'number' ? { j, t, e } : null;
  } catch {
    return null;
  }
}

/** The events path a token is presented on: `/jobs/<id>/events`. */
const EVENTS_PATH = /^\/jobs\/([^/?]+)\/events$/;

/**
 * The job id and token of an `events_url` request; null for any other request. Read from the raw
 * URL, never parsed as one: `new URL('//', base)` throws, and this runs before any route on every
 * request without a key. A job id is a UUID, so one that would need decoding is no job's.
 */
export function eventsTokenOf(url: string): { jobId: string; token: string } | null {
  const query = url.indexOf('?');
  if (query < 0) return null;
  const jobId = EVENTS_PATH.exec(url.slice(0, query))?.[1];
  if (!jobId || !isJobId(jobId)) return null;
  const token = new URLSearchParams(url.slice(query + 1)).get('token');
  return token ? { jobId, token } : null;
}

/** A URL with its `token` hidden, for logs: the token is a credential. */
export function redactToken(url: string): string {
  return url.replace(/([?&]token=)[^&]*/g, '$1[redacted]');
}

/**
 * The preHandler of every route that answers an `events_url`: the secret is read before anything is
 * queued, so a Redis failure is a 503 that says nothing was queued, never a 500 for a job that will run.
 */
export function tokensReadyHook(tokens: Pick<EventTokens, 'ready'>): () => Promise<void> {
  return () => orUnavailable(tokens.ready());
}
