import type { SSEReplyInterface } from '@fastify/sse';
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

/**
 * The open Server-Sent Event streams of this API process (GET /jobs/:id/events, POST /run streamed).
 * A stream lasts as long as its job: shutdown ends them (each viewer resumes on another replica from
 * its last id) rather than waiting for every job being watched.
 */
export class EventStreams {
  private readonly open = new Set<AbortController>();

  /** Ends every open stream. */
  closeAll(): void {
    for (const viewer of this.open) viewer.abort();
  }

  /**
   * Sends the feed on an SSE reply until it ends, the viewer leaves, or closeAll. Returns whether
   * anything was sent: if not, the head is not sent either and the caller answers as it likes.
   */
  async send(req: StreamRequest, reply: StreamReply, feed: MessageFeed): Promise<boolean> {
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
      left.abort();
    }
    return sent;
  }
}
