/**
 * Demultiplexes Docker's attach stream (8-byte header: stream type, 3 zero
 * bytes, big-endian length) and keeps at most `keepBytes` of stdout and stderr
 * together, in arrival order. Calls `onOverflow` once when more than that has
 * arrived, so the caller can stop the container.
 */
export class OutputCollector {
  private pending: Buffer = Buffer.alloc(0);
  private readonly stdout: Buffer[] = [];
  private readonly stderr: Buffer[] = [];
  private kept = 0;
  private received = 0;
  private overflowed = false;
  /** The last bytes of each stream, kept even past the cap, for end markers. */
  private tails: [Buffer, Buffer] = [Buffer.alloc(0), Buffer.alloc(0)];

  constructor(
    private readonly keepBytes: number,
    private readonly onOverflow: () => void,
    /** Called after each demultiplexed frame, so the caller can look at the tails. */
    private readonly onData: () => void = () => {},
  ) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      const kind = this.pending[0];
      const payload = this.pending.subarray(8, 8 + size);
      this.pending = this.pending.subarray(8 + size);
      // 0 is stdin (never sent back), 1 stdout, 2 stderr.
      if (kind !== 1 && kind !== 2) continue;
      this.keep(kind === 1 ? this.stdout : this.stderr, payload);
      const at = kind - 1;
      const tail = Buffer.concat([this.tails[at] as Buffer, payload]);
      this.tails[at] = Buffer.from(tail.subarray(Math.max(0, tail.length - TAIL_BYTES)));
      this.onData();
    }
  }

  /** The last bytes (at most 1 KiB) that arrived on stdout or stderr. */
  tail(stream: 'stdout' | 'stderr'): Buffer {
    return this.tails[stream === 'stdout' ? 0 : 1] as Buffer;
  }

  private keep(target: Buffer[], payload: Buffer): void {
    this.received += payload.length;
    const room = this.keepBytes - this.kept;
    if (room > 0) {
      const part = payload.length <= room ? payload : payload.subarray(0, room);
      // Copy: the attach stream may reuse its buffers.
      target.push(Buffer.from(part));
      this.kept += part.length;
    }
    if (this.received > this.keepBytes && !this.overflowed) {
      this.overflowed = true;
      this.onOverflow();
    }
  }

  get overflow(): boolean {
    return this.overflowed;
  }

  result(): { stdout: Buffer; stderr: Buffer; overflow: boolean } {
    return { stdout: Buffer.concat(this.stdout), stderr: Buffer.concat(this.stderr), overflow: this.overflowed };
  }
}

// Room for a whole per-test report line (about 250 bytes) after its marker.
const TAIL_BYTES = 1024;
