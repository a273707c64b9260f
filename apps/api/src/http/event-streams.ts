import type { SSEReplyInterface } from '@fastify/sse';
import { ApiError } from '@sbx/shared';
import type { FastifyBaseLogger } from 'fastify';
import { type EventMessage, RECONNECT_MS } from '../services/event-messages.js';

/** Comment lines that keep an idle stream open through proxies that cut quiet connections. */
export const HEARTBEAT_MS = 15_000;

/** What sending needs of a request: its id and its log. */
export interface StreamRequest {
  id: string;
  log: Pick<FastifyBaseLogger, 'warn'>;
}

/** What sending needs of a reply: its headers, and the SSE side @fastify/sse gives it. */
export interface StreamReply {
  header(name: string, value: string): unknown;
  sse: SSEReplyInterface;
}

/** A feed of messages to send, read until it ends or the signal says the viewer is gone. */
export type MessageFeed = (signal: AbortSignal) => AsyncIterable<EventMessage>;

/** A viewer's place among the streams this process serves, held from before its job is opened. */
export interface Seat {
  /** Gives the place back; once, however often it is called. */
  release(): void;
}

/**
 * The open Server-Sent Event streams of this API process (GET /jobs/:id/events, POST /run streamed).
 * A stream lasts as long as its job: shutdown ends them (each viewer resumes on another replica from
 * its last id) rather than waiting for every job being watched. Each holds a Redis connection, and
 * Redis's connection limit is the whole service's: streams are capped per process and per tenant.
 */
export class EventStreams {
  private readonly open = new Set<AbortController>();
  private seated = 0;
  private readonly perTenant = new Map<string, number>();

  /** `max`: SBX_MAX_VIEWERS; `maxPerTenant`: SBX_MAX_VIEWERS_PER_TENANT. */
  constructor(private readonly limits: { max: number; maxPerTenant: number }) {}

  /**
   * A seat for a new viewer, taken before anything is opened or queued (a streamed POST /run refused
   * here queued nothing). Throws 429 too_many_viewers when the process or the tenant is full.
   */
  reserve(tenantId: string): Seat {
    const held = this.perTenant.get(tenantId) ?? 0;
    const reason =
      this.seated >= this.limits.max
        ? `this API process serves its maximum of ${this.limits.max} live event streams`
        : held >= this.limits.maxPerTenant
          ? `this tenant holds its maximum of ${this.limits.maxPerTenant} live event streams on this API process`
          : null;
    if (reason) throw new ApiError('too_many_viewers', `${reason}; close one, or retry shortly`, undefined, 5);
    this.seated += 1;
    this.perTenant.set(tenantId, held + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.seated -= 1;
        const left = (this.perTenant.get(tenantId) ?? 1) - 1;
        if (left > 0) this.perTenant.set(tenantId, left);
        else this.perTenant.delete(tenantId);
      },
    };
  }

  /** Ends every open stream. */
  closeAll(): void {
    for (const viewer of this.open) viewer.abort();
  }

  /**
   * Sends the feed on an SSE reply until it ends, the viewer leaves, or closeAll, then releases the
   * seat. Returns whether anything was sent: if not, the head is not sent either and the caller
   * answers as it likes.
   */
  async send(req: StreamRequest, reply: StreamReply, feed: MessageFeed, seat: Seat): Promise<boolean> {
    // Written by the plugin with the head, which our onSend hook never sees.
    reply.header('x-request-id', req.id);
    reply.header('referrer-policy', 'no-referrer');
    const left = new AbortController();
    this.open.add(left);
    reply.sse.onClose(() => left.abort());
    let sent = false;
    try {
      for await (const message of feed(left.signal)) {
        await reply.sse.send(sent ? message : { ...message, retry: RECONNECT_MS });
        sent = true;
        if (!reply.sse.isConnected) break;
      }
    } catch (err) {
      // Before the first event the head is not sent: the error gets its usual reply (503 for Redis).
      if (!sent) throw err;
      // Mid-stream no error reply is possible: the client resumes from its last id.
      req.log.warn({ err }, 'event stream ended early');
    } finally {
      this.open.delete(left);
      seat.release();
      left.abort();
    }
    return sent;
  }
}
