import type { Duplex } from 'node:stream';
import { WIRE } from './wire.js';

/** What the supervisor writes first on stdout once it waits for its job (wire.json's `ready`). */
export const READY_MARKER = WIRE.ready;

/**
 * Sits between a sandbox's attach stream and whoever reads it: settles `ready` on the harness's
 * ready marker (true) or on anything else arriving first, or the stream ending (false), strips the
 * marker, and keeps every other byte for the consumer in order. The marker comes before any user
 * code exists, so nothing the user writes can fake it.
 */
export class ReadyGate {
  readonly ready: Promise<boolean>;
  private settle: (ready: boolean) => void = () => {};
  private head: Buffer = Buffer.alloc(0);
  private decided = false;
  private readonly held: Buffer[] = [];
  private consumer: ((chunk: Buffer) => void) | undefined;

  /**
   * `marker` false: a sandbox restored from a checkpoint, whose supervisor wrote its marker before the
   * checkpoint was taken and waits for its job already. The gate is open from the start.
   */
  constructor(stream: Duplex, marker = true) {
    this.ready = new Promise((resolve) => {
      this.settle = resolve;
    });
    if (!marker) this.decide(true, Buffer.alloc(0));
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    const ended = () => this.decide(false, this.head);
    stream.once('end', ended);
    stream.once('close', ended);
    stream.once('error', ended);
  }

  /** Hands every byte after the marker (and any held so far) to `fn`, in order. */
  consume(fn: (chunk: Buffer) => void): void {
    this.consumer = fn;
    for (const chunk of this.held.splice(0)) fn(chunk);
  }

  private onData(chunk: Buffer): void {
    if (this.decided) {
      this.forward(chunk);
      return;
    }
    this.head = this.head.length ? Buffer.concat([this.head, chunk]) : chunk;
    if (this.head.length < 8) return;
    const size = this.head.readUInt32BE(4);
    const marker = this.head.subarray(8, 8 + READY_MARKER.length);
    if (this.head[0] !== 1 || size < READY_MARKER.length || !READY_MARKER.subarray(0, marker.length).equals(marker)) {
      this.decide(false, this.head);
      return;
    }
    if (marker.length < READY_MARKER.length) return;
    // The marker may share its frame with later stdout: keep the rest of that frame, re-headed.
    const restOfFrame = size - READY_MARKER.length;
    const header = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]);
    header.writeUInt32BE(restOfFrame, 4);
    const after = this.head.subarray(8 + READY_MARKER.length);
    this.decide(true, restOfFrame > 0 ? Buffer.concat([header, after]) : after);
  }

  private decide(ready: boolean, leftover: Buffer): void {
    if (this.decided) return;
    this.decided = true;
    this.head = Buffer.alloc(0);
    if (leftover.length) this.forward(leftover);
    this.settle(ready);
  }

  private forward(chunk: Buffer): void {
    if (this.consumer) this.consumer(chunk);
    else this.held.push(chunk);
  }
}
