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
  private allowed = false;
  private watch: { marker: Buffer; onSeen: (value: number) => void } | null = null;

  constructor(
    private keepBytes: number,
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
      const at = kind - 1;
      const previous = this.tails[at] as Buffer;
      const tail = Buffer.concat([previous, payload]);
      const watch = this.watch;
      const seen = kind === 2 && watch ? this.watched(watch.marker, tail, previous.length) : null;
      if (!watch || !seen) this.keep(kind === 1 ? this.stdout : this.stderr, payload);
      else {
        // The watched line is kept under the cap as it was; what follows it, under what onSeen allowed.
        this.keep(this.stderr, payload.subarray(0, seen.split));
        watch.onSeen(seen.value);
        this.keep(this.stderr, payload.subarray(seen.split));
      }
      this.tails[at] = Buffer.from(tail.subarray(Math.max(0, tail.length - TAIL_BYTES)));
      this.onData();
    }
  }

  /**
   * Raises the cap once by `extraBytes` (later calls do nothing): for what the harness sends after
   * the user's output (its artifact frames), which must not count against the user's cap.
   */
  allow(extraBytes: number): void {
    if (this.allowed) return;
    this.allowed = true;
    this.keepBytes += Math.max(0, Math.floor(extraBytes));
  }

  /**
   * Once, when stderr carries `marker` followed by `<digits>\n`: calls `onSeen(digits)` after the
   * bytes up to that line's end are kept and before any byte after it is, so an allow() from
   * onSeen covers exactly what follows the line. A marker not followed by digits ends the watch.
   */
  watchStderr(marker: Buffer, onSeen: (value: number) => void): void {
    this.watch = { marker, onSeen };
  }

  /**
   * The watched line's value and where in the newest payload (which starts at `payloadStart` in
   * `joined`, after the previous tail) it ends; null while it is not complete yet. Ends the watch
   * once the line is complete, or is not the marker's.
   */
  private watched(marker: Buffer, joined: Buffer, payloadStart: number): { split: number; value: number } | null {
    const at = joined.indexOf(marker);
    if (at < 0) return null;
    const end = joined.indexOf(0x0a, at + marker.length);
    const digits = joined.toString('latin1', at + marker.length, end < 0 ? joined.length : end);
    if (!/^\d{0,15}$/.test(digits) || (end >= 0 && digits.length === 0)) {
      this.watch = null;
      return null;
    }
    if (end < 0) return null;
    this.watch = null;
    return { split: Math.max(0, end + 1 - payloadStart), value: Number(digits) };
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
