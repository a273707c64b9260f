import { TextDecoder } from 'node:util';
import type { JobEvent, OutputChunk } from '@sbx/shared';
import { OutputCoalescer, type OutputStream, type Schedule, type Segment } from './output-coalescer.js';

/** Where a sandbox hands the program's output as it arrives (RunInput.output). */
export interface OutputSink {
  /** A piece of the program's own output (never a harness frame); `test` is the test case's index. */
  write(stream: OutputStream, bytes: Buffer, test?: number): void;
}

/** Gathering: the first output after a quiet spell goes at once, what follows within this waits for it. */
export const COALESCE_MS = 15;
/** Pending output that is sent at once, window or not. */
export const FLUSH_BYTES = 16 * 1024;
/** Segments one flush may carry before each stream's output of the window is merged. */
export const MAX_SEGMENTS = 8;
/** Output events one run may publish: the last resort against a stream growing past any use. */
export const MAX_OUTPUT_EVENTS = 4096;

export interface LiveOutputOptions {
  /** SBX_MAX_OUTPUT_BYTES: no more of the program's output than this is ever streamed. */
  capBytes: number;
  /** The job's output_encoding: text, or base64 of the exact bytes in each event. */
  encoding: 'utf8' | 'base64';
  /** Handed the events of each flush, in order; must not throw (the publisher's failures are its own). */
  publish: (events: JobEvent[]) => void;
  schedule?: Schedule;
  maxEvents?: number;
}

/**
 * One run's output on its way to viewers: within the cap (counted in arrival order over both
 * streams), UTF-8 never split (one streaming decoder per stream holds a character cut between two
 * frames until its last byte arrives), gathered into few events. Past the cap, one `truncated` event
 * and nothing more of this run.
 */
export class LiveOutput implements OutputSink {
  private streamed = 0;
  private events = 0;
  /** Set once the run's streaming ends early (cap or budget): what was gathered still goes out. */
  private stopping = false;
  /** Set once that last flush is out: nothing more is published but the `truncated` event. */
  private stopped = false;
  private readonly decoders = new Map<OutputStream, { decoder: TextDecoder; test: number | undefined }>();
  private readonly coalescer: OutputCoalescer<string | Buffer>;
  private readonly maxEvents: number;

  constructor(private readonly opts: LiveOutputOptions) {
    this.maxEvents = opts.maxEvents ?? MAX_OUTPUT_EVENTS;
    this.coalescer = new OutputCoalescer({
      flush: (segments) => this.onFlush(segments),
      windowMs: COALESCE_MS,
      flushBytes: FLUSH_BYTES,
      maxSegments: MAX_SEGMENTS,
      ...(opts.schedule ? { schedule: opts.schedule } : {}),
    });
  }

  write(stream: OutputStream, bytes: Buffer, test?: number): void {
    if (this.stopping || bytes.length === 0) return;
    const room = this.opts.capBytes - this.streamed;
    const part = bytes.length <= room ? bytes : bytes.subarray(0, room);
    this.streamed += part.length;
    if (part.length > 0) this.take(stream, part, test);
    if (part.length < bytes.length) this.stop({ limit_bytes: this.opts.capBytes });
  }

  /**
   * The run is over: what is held (a character's first bytes, a window's output) goes now, and
   * nothing after (a run given up by its watchdog may still be writing).
   */
  end(): void {
    if (this.stopping) return;
    this.flushDecoders();
    this.coalescer.end();
    this.stopping = true;
    this.stopped = true;
  }

  private take(stream: OutputStream, bytes: Buffer, test: number | undefined): void {
    if (this.opts.encoding === 'base64') {
      // Copied: the attach stream may reuse its buffers before the window ends.
      this.coalescer.push(stream, test, Buffer.from(bytes), bytes.length);
      return;
    }
    const text = this.decoderFor(stream, test).decode(bytes, { stream: true });
    if (text) this.coalescer.push(stream, test, text, bytes.length);
  }

  /** The stream's decoder; a new test's output never completes a character the last test began. */
  private decoderFor(stream: OutputStream, test: number | undefined): TextDecoder {
    const held = this.decoders.get(stream);
    if (held && held.test === test) return held.decoder;
    if (held) this.flushDecoder(stream, held);
    const fresh = { decoder: new TextDecoder('utf-8'), test };
    this.decoders.set(stream, fresh);
    return fresh.decoder;
  }

  private flushDecoders(): void {
    for (const [stream, held] of this.decoders) this.flushDecoder(stream, held);
  }

  /** A character left incomplete at the end comes out as U+FFFD, as the stored result has it. */
  private flushDecoder(stream: OutputStream, held: { decoder: TextDecoder; test: number | undefined }): void {
    const rest = held.decoder.decode();
    if (rest) this.coalescer.push(stream, held.test, rest, 0);
  }

  private stop(truncated: { limit_bytes: number; reason?: 'events' }): void {
    if (this.stopping) return;
    this.stopping = true;
    this.flushDecoders();
    this.coalescer.end();
    this.stopped = true;
    this.opts.publish([{ type: 'truncated', data: truncated }]);
  }

  private onFlush(segments: Segment<string | Buffer>[]): void {
    if (this.stopped) return;
    const room = this.maxEvents - this.events;
    const events = segments.slice(0, room).map((s) => outputEvent(s));
    this.events += events.length;
    if (events.length > 0) this.opts.publish(events);
    if (segments.length > room) this.stop({ limit_bytes: this.opts.capBytes, reason: 'events' });
  }
}

/** A segment as one stdout or stderr event. */
function outputEvent(segment: Segment<string | Buffer>): JobEvent {
  const { pieces, stream, test } = segment;
  const chunk: OutputChunk =
    typeof pieces[0] === 'string'
      ? { text: pieces.join('') }
      : { base64: Buffer.concat(pieces as Buffer[]).toString('base64') };
  if (test !== undefined) chunk.test = test;
  return stream === 'stdout' ? { type: 'stdout', data: chunk } : { type: 'stderr', data: chunk };
}
