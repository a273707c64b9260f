import {
  compareEventIds,
  decodeJobEvent,
  type JobView,
  jobEventsKey,
  parseEventId,
  type StoredJobEvent,
  type Tenant,
} from '@sbx/shared';
import type { Redis } from 'ioredis';
import { closingResult, type EventMessage, messageOf, rebuiltMessages } from './event-messages.js';

/** A blocking read ends this often to look at the job itself: finished without a marker, a queued job's new place. */
export const BLOCK_MS = 2000;
/** Entries one read takes at most. */
const READ_COUNT = 256;

export interface JobEventsContext {
  /** The API's shared connection (XRANGE), and the one a viewer's blocking reads are duplicated from. */
  redis: Pick<Redis, 'xrange' | 'xlen' | 'duplicate'>;
  prefix: string;
  /** The job as its tenant may see it (GET /jobs/:id); null for no such job, or another tenant's. */
  view: (id: string, tenant: Tenant) => Promise<JobView | null>;
  /** SBX_MAX_OUTPUT_BYTES, for the `truncated` of events rebuilt from a result. */
  capBytes: number;
  blockMs?: number;
}

/** What a viewer gets: nothing more (it has the result: 204), or its messages from where it was. */
export type EventFeed =
  | { done: true }
  | { done: false; messages: (signal: AbortSignal) => AsyncIterable<EventMessage> };

/** An entry read back: its id, and its event (null for one this reader does not know: skipped). */
interface Entry {
  id: string;
  event: StoredJobEvent | null;
}

/** What a live feed is following. */
interface Following {
  id: string;
  tenant: Tenant;
  key: string;
  /** The last entry id read (or the viewer's Last-Event-ID): reads continue after it. */
  cursor: string;
}

/**
 * `GET /jobs/:id/events` for any API replica: a job's stream read from where the viewer was, then
 * followed with blocking reads on a connection of the viewer's own until the result. A finished
 * job's events come from its stream, or, once that has expired, are rebuilt from its result.
 */
export class JobEvents {
  private readonly blockMs: number;

  constructor(private readonly ctx: JobEventsContext) {
    this.blockMs = ctx.blockMs ?? BLOCK_MS;
  }

  /** The feed of a job for its tenant; null when the tenant has no such job. */
  async open(id: string, tenant: Tenant, lastEventId: string | undefined): Promise<EventFeed | null> {
    const view = await this.ctx.view(id, tenant);
    if (!view) return null;
    const after = parseEventId(lastEventId) ? (lastEventId as string).trim() : null;
    const key = jobEventsKey(this.ctx.prefix, id);
    // The view first: a result stored since is then in the stream too (the marker is written with it).
    if (view.state === 'completed') return feedOf(this.finished(view, await this.read(key, '-'), after));
    const following: Following = { id, tenant, key, cursor: after ?? '0-0' };
    return { done: false, messages: (signal) => this.live(following, view, signal) };
  }

  /** A finished job's messages after the viewer's last: up to its result marker, or rebuilt. */
  private finished(view: JobView, stored: Entry[], after: string | null): EventMessage[] {
    if (stored.length === 0) return rebuiltMessages(view, after, this.ctx.capBytes);
    const end = stored.findIndex((e) => e.event?.type === 'result');
    const upToEnd = end < 0 ? stored : stored.slice(0, end + 1);
    const messages = upToEnd.flatMap((e) => (e.event ? [messageOf(e.event, view)] : []));
    if (end < 0) messages.push(closingResult((stored.at(-1) as Entry).id, view));
    return after ? messages.filter((m) => m.id === undefined || compareEventIds(m.id, after) > 0) : messages;
  }

  /** A queued or running job: what is stored, then each new entry as it comes, until the result. */
  private async *live(job: Following, view: JobView, signal: AbortSignal): AsyncGenerator<EventMessage> {
    // Its place only while nothing of a run is stored: the view may lag a run that has begun, and a
    // job back in the queue for another attempt shows its earlier run until the next `run` event.
    if (view.state === 'queued' && (await this.ctx.redis.xlen(job.key)) === 0) yield queuedMessage(view);
    // A blocked read holds its connection: each viewer has its own, closed when it leaves or the job ends.
    const conn = this.ctx.redis.duplicate({ lazyConnect: true, connectionName: `${this.ctx.prefix}:events` });
    // Its failures reach the reads that made them; unheard, each would also be an unhandled 'error'.
    conn.on('error', () => {});
    const onAbort = () => conn.disconnect();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await conn.connect();
      let place = placeOf(view);
      while (!signal.aborted) {
        const entries = await this.next(conn, job);
        if (entries === null) {
          // Quiet: has it finished without a marker, or moved up the queue?
          const now = await this.ctx.view(job.id, job.tenant);
          if (!now) return;
          if (now.state === 'completed') return yield* this.rest(job, now);
          if (now.state === 'queued' && placeOf(now) !== place) yield queuedMessage(now);
          place = placeOf(now);
          continue;
        }
        for (const message of await this.messages(job, entries)) {
          yield message;
          if (message.event === 'result') return;
        }
      }
    } catch (err) {
      // A viewer that left cut its connection mid-read: that is the end, not an error.
      if (!signal.aborted) throw err;
    } finally {
      signal.removeEventListener('abort', onAbort);
      conn.disconnect();
    }
  }

  /** The next entries after the cursor, waiting up to blockMs for one; null when none came. */
  private async next(conn: Pick<Redis, 'xread'>, job: Following): Promise<Entry[] | null> {
    const reply = await conn.xread('COUNT', READ_COUNT, 'BLOCK', this.blockMs, 'STREAMS', job.key, job.cursor);
    const entries = reply?.[0]?.[1];
    return entries?.length ? entries.map(([id, fields]) => ({ id, event: decodeJobEvent(id, fields) })) : null;
  }

  /** Entries as messages, the cursor moved past them; the marker becomes the view of that moment. */
  private async messages(job: Following, entries: Entry[]): Promise<EventMessage[]> {
    const out: EventMessage[] = [];
    for (const { id, event } of entries) {
      job.cursor = id;
      if (!event) continue;
      if (event.type !== 'result') {
        out.push({ id, event: event.type, data: event.data });
        continue;
      }
      const view = await this.ctx.view(job.id, job.tenant);
      if (view) out.push(messageOf(event, view));
      break;
    }
    return out;
  }

  /** The job finished while followed but no marker came: what is left of the stream, then the result. */
  private async *rest(job: Following, view: JobView): AsyncGenerator<EventMessage> {
    const rest = await this.read(job.key, `(${job.cursor}`);
    if (rest.length === 0 && job.cursor === '0-0') return yield* rebuiltMessages(view, null, this.ctx.capBytes);
    const stored = this.finished(view, rest, null);
    yield* stored.length > 0 ? stored : [closingResult(job.cursor, view)];
  }

  private async read(key: string, from: string): Promise<Entry[]> {
    const entries = await this.ctx.redis.xrange(key, from, '+');
    return entries.map(([id, fields]) => ({ id, event: decodeJobEvent(id, fields) }));
  }
}

function feedOf(messages: EventMessage[]): EventFeed {
  if (messages.length === 0) return { done: true };
  return {
    done: false,
    messages: async function* () {
      yield* messages;
    },
  };
}

/** A queued job's place: no id, it is the API's reading of the queue, never stored. */
function queuedMessage(view: JobView): EventMessage {
  return {
    event: 'status',
    data: {
      state: 'queued',
      position: view.position ?? null,
      eta_seconds: view.eta_seconds ?? null,
      ...(view.lane ? { lane: view.lane } : {}),
    },
  };
}

const placeOf = (view: JobView): string => `${view.state}:${view.position ?? ''}`;
