/**
 * Docker's attach stream, demultiplexed: each frame is an 8-byte header (stream type, 3 zero bytes,
 * big-endian length) and its payload. Calls `onPayload(1 | 2, payload)` for stdout and stderr in
 * order, whatever slices the bytes arrive in.
 */
export class AttachDemux {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly onPayload: (stream: 1 | 2, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      const kind = this.pending[0];
      const payload = this.pending.subarray(8, 8 + size);
      this.pending = this.pending.subarray(8 + size);
      // 0 is stdin (never sent back), 1 stdout, 2 stderr.
      if (kind === 1 || kind === 2) this.onPayload(kind, payload);
    }
  }
}
