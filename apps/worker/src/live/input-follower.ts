import { INPUT_FIELDS } from '@sbx/shared';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { InputSink, InputSource } from '../sandbox/types.js';

/** A blocking read ends this often to see whether it was stopped (stopping also cuts it at once). */
const BLOCK_MS = 5000;
/** Entries one read takes at most. */
const READ_COUNT = 256;
/** After a read failed (Redis away: ioredis reconnects by itself), before the next. */
const RETRY_MS = 250;

export interface InputFollowerOptions {
  /** A connection of its own for each run followed (a blocked XREAD holds it); closed when the run ends. */
  connect: () => Pick<Redis, 'xreadBuffer' | 'disconnect' | 'on'>;
  /** The stream of a job's input (redisKeys().input). */
  inputKey: (jobId: string) => string;
  log: Pick<Logger, 'warn'>;
  blockMs?: number;
}

/**
 * An interactive job's input, as the API appends it (POST /jobs/:id/stdin: packages/shared
 * job-input.ts), followed from the start of the stream while a run goes on: a retried run reads it
 * all again, as its program starts again. The sandbox gets each entry's bytes in order, then eof.
 */
export class InputFollower {
  constructor(private readonly opts: InputFollowerOptions) {}

  /** The input of one job; nothing is read until a run follows it. */
  source(jobId: string): InputSource {
    return { follow: (to) => this.follow(jobId, to) };
  }

  private follow(jobId: string, to: InputSink): () => void {
    const conn = this.opts.connect();
    // Its failures reach the reads that made them; unheard, each would also be an unhandled 'error'.
    conn.on('error', () => {});
    let stopped = false;
    const stop = () => {
      if (stopped) return;
      stopped = true;
      conn.disconnect();
    };
    this.read(conn, this.opts.inputKey(jobId), to, () => stopped).then(stop, (err: unknown) => {
      if (!stopped) this.opts.log.warn({ err, job: jobId }, 'interactive input could not be followed');
      stop();
    });
    return stop;
  }

  /** Reads until eof is delivered or `stopped` says so. */
  private async read(
    conn: Pick<Redis, 'xreadBuffer'>,
    key: string,
    to: InputSink,
    stopped: () => boolean,
  ): Promise<void> {
    let cursor = '0-0';
    let warned = false;
    while (!stopped()) {
      let reply: Awaited<ReturnType<typeof readEntries>>;
      try {
        reply = await readEntries(conn, key, cursor, this.opts.blockMs ?? BLOCK_MS);
      } catch (err) {
        if (stopped()) return;
        if (!warned)
          this.opts.log.warn({ err: (err as Error).message, key }, 'reading interactive input failed; retrying');
        warned = true;
        await new Promise((r) => setTimeout(r, RETRY_MS));
        continue;
      }
      for (const [id, fields] of reply) {
        cursor = id.toString();
        if (stopped()) return;
        if (deliver(fields, to)) return;
      }
    }
  }
}

async function readEntries(conn: Pick<Redis, 'xreadBuffer'>, key: string, cursor: string, blockMs: number) {
  const reply = await conn.xreadBuffer('COUNT', READ_COUNT, 'BLOCK', blockMs, 'STREAMS', key, cursor);
  // RESP2 shape, which ioredis speaks unless told otherwise: [[key, [[id, fields], ...]]].
  const streams = reply as [Buffer, [Buffer, Buffer[]][]][] | null;
  return streams?.[0]?.[1] ?? [];
}

/** One entry to the sink; true once it was the eof (nothing after it is read). */
function deliver(fields: Buffer[], to: InputSink): boolean {
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]?.toString();
    const value = fields[i + 1] as Buffer;
    if (name === INPUT_FIELDS.data && value.length > 0) to.data(value);
    else if (name === INPUT_FIELDS.eof) {
      to.eof();
      return true;
    }
  }
  return false;
}
