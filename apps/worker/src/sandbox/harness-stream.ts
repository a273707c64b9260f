import { AttachDemux } from './attach-demux.js';
import {
  type HarnessReport,
  isArtifactName,
  MAX_DROPPED_NAMES,
  MIME,
  parseReport,
  type RawArtifact,
  shownName,
} from './harness-report.js';
import { WIRE } from './wire.js';

/** One run's output, or one test's: the program's own bytes, and the report once it finished. */
export interface TestSlice {
  stdout: Buffer;
  stderr: Buffer;
  report: HarnessReport | null;
  /** The kernel OOM-killed in the sandbox while this test ran (the cgroup's count rose by its report). */
  oomKilled?: boolean;
}

export interface HarnessStreamOptions {
  /** The program's output bytes kept (stdout and stderr of every test together); past it, onOverflow once. */
  keepOutputBytes: number;
  onOverflow: () => void;
  /** Artifact caps (checked again here, in order); absent: an artifact frame is a protocol fault. */
  artifacts?: { maxCount: number; maxBytes: number } | undefined;
  /** After each report frame: the finished run's (or test's) slice and its index. */
  onReport?: (slice: TestSlice, index: number) => void;
  /** The supervisor's last frame, with its exit code. */
  onDone?: (exitCode: number) => void;
  /**
   * Each stdout or stderr frame's payload as it arrives, before any cap (the live output keeps its
   * own): only the program's bytes, never a frame of the harness's. `test` is the test case's index.
   */
  onOutput?: (stream: 'stdout' | 'stderr', payload: Buffer, test: number | undefined) => void;
}

/** What the supervisor's own stderr keeps for the logs (its diagnostics, never the program's bytes). */
const HARNESS_LOG_BYTES = 4096;
const DONE_MAX_BYTES = 64;

/**
 * Reads a sandbox's attach stream (after the ready bytes): the supervisor's stdout is nothing but
 * frames (infra/sandbox/harness/wire.json), its stderr its own diagnostics. The program never holds
 * either descriptor, so frames need no nonce and the program's bytes are counted exactly: a frame
 * that breaks the protocol is the harness's fault, and decoding stops there (`fault`).
 */
export class HarnessStream {
  private readonly demux = new AttachDemux((stream, payload) =>
    stream === 1 ? this.onFrameBytes(payload) : this.onLog(payload),
  );
  private pending: Buffer = Buffer.alloc(0);
  private readonly done: TestSlice[] = [];
  private current = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  /** Tests handed their input (begin): one past the reports is the test in progress. */
  private begun = 0;
  private kept = 0;
  private received = 0;
  private overflowed = false;
  private log: Buffer = Buffer.alloc(0);
  private readonly keptArtifacts: RawArtifact[] = [];
  private keptArtifactBytes = 0;
  private readonly dropped = { count: 0, names: [] as string[] };
  /** Set when a frame broke the protocol: nothing after it is read. */
  fault: string | null = null;
  exitCode: number | null = null;

  constructor(private readonly opts: HarnessStreamOptions) {}

  /** Raw attach-stream bytes, in any slices. */
  push(chunk: Buffer): void {
    this.demux.push(chunk);
  }

  private onLog(payload: Buffer): void {
    const joined = Buffer.concat([this.log, payload]);
    this.log = Buffer.from(joined.subarray(Math.max(0, joined.length - HARNESS_LOG_BYTES)));
  }

  private onFrameBytes(payload: Buffer): void {
    if (this.fault) return;
    this.pending = this.pending.length === 0 ? payload : Buffer.concat([this.pending, payload]);
    const header = WIRE.headerBytes;
    while (this.pending.length >= header && !this.fault) {
      const kind = this.pending[0] as number;
      const size = this.pending.readUInt32BE(1);
      const bound = this.boundOf(kind);
      if (bound === null || size > bound) {
        this.fault = bound === null ? `unknown frame kind ${kind}` : `a frame of kind ${kind} is ${size} bytes`;
        return;
      }
      if (this.pending.length < header + size) return;
      const body = this.pending.subarray(header, header + size);
      this.pending = this.pending.subarray(header + size);
      this.onFrame(kind, body);
    }
  }

  /** The largest payload a kind may carry, checked before any of it is held; null for no such kind. */
  private boundOf(kind: number): number | null {
    const k = WIRE.kinds;
    if (kind === k.stdout || kind === k.stderr) return WIRE.maxChunkBytes;
    if (kind === k.report) return WIRE.maxReportBytes;
    if (kind === k.done) return DONE_MAX_BYTES;
    if (kind === k.artifact && this.opts.artifacts) return WIRE.artifactHeaderMaxBytes + this.opts.artifacts.maxBytes;
    return null;
  }

  private onFrame(kind: number, body: Buffer): void {
    const k = WIRE.kinds;
    if (kind === k.stdout || kind === k.stderr) this.onOutput(kind === k.stdout ? 'stdout' : 'stderr', body);
    else if (kind === k.report) this.onReport(body);
    else if (kind === k.artifact) this.onArtifact(body);
    else this.onDone(body);
  }

  private onOutput(stream: 'stdout' | 'stderr', payload: Buffer): void {
    // The test in progress is the one after the last reported; a single run has no index. A viewer's
    // trouble must never become the run's: whatever the hook throws stays here.
    try {
      this.opts.onOutput?.(stream, payload, this.begun > 0 ? this.done.length : undefined);
    } catch {}
    this.received += payload.length;
    const room = this.opts.keepOutputBytes - this.kept;
    if (room > 0) {
      const part = payload.length <= room ? payload : payload.subarray(0, room);
      // Copy: the attach stream may reuse its buffers.
      this.current[stream].push(Buffer.from(part));
      this.kept += part.length;
    }
    if (this.received > this.opts.keepOutputBytes && !this.overflowed) {
      this.overflowed = true;
      this.opts.onOverflow();
    }
  }

  private onReport(body: Buffer): void {
    const report = parseReport(body);
    if (!report) {
      this.fault = 'a report frame that is not a report';
      return;
    }
    const slice = this.take(report);
    this.done.push(slice);
    this.opts.onReport?.(slice, this.done.length - 1);
  }

  private take(report: HarnessReport | null): TestSlice {
    const slice = {
      stdout: Buffer.concat(this.current.stdout),
      stderr: Buffer.concat(this.current.stderr),
      report,
    };
    this.current = { stdout: [], stderr: [] };
    return slice;
  }

  private onArtifact(body: Buffer): void {
    const caps = this.opts.artifacts;
    const newline = body.indexOf(0x0a);
    let header: Record<string, unknown> | null = null;
    try {
      if (newline >= 0) header = JSON.parse(body.toString('utf8', 0, newline)) as Record<string, unknown>;
    } catch {}
    const data = body.subarray(newline + 1);
    if (
      !caps ||
      !header ||
      typeof header !== 'object' ||
      header.bytes !== data.length ||
      !isArtifactName(header.name)
    ) {
      this.fault = 'an artifact frame that is not an artifact';
      return;
    }
    const name = header.name;
    const full = this.dropped.count > 0;
    const taken = this.keptArtifacts.some((a) => a.name === name);
    if (
      full ||
      taken ||
      this.keptArtifacts.length >= caps.maxCount ||
      this.keptArtifactBytes + data.length > caps.maxBytes
    ) {
      this.dropped.count += 1;
      if (this.dropped.names.length < MAX_DROPPED_NAMES) this.dropped.names.push(shownName(name));
      return;
    }
    this.keptArtifactBytes += data.length;
    const mime = typeof header.mime === 'string' && MIME.test(header.mime) ? header.mime : 'application/octet-stream';
    this.keptArtifacts.push({ name, mime, data: Buffer.from(data) });
  }

  private onDone(body: Buffer): void {
    let exitCode: unknown;
    try {
      exitCode = (JSON.parse(body.toString('utf8')) as { exit_code?: unknown }).exit_code;
    } catch {}
    if (!Number.isSafeInteger(exitCode)) {
      this.fault = 'a done frame without an exit code';
      return;
    }
    this.exitCode = exitCode as number;
    this.opts.onDone?.(this.exitCode);
  }

  get overflow(): boolean {
    return this.overflowed;
  }

  /**
   * A test was handed its input (the worker's go-ahead): until its report it is the one in
   * progress, and has a slice even if it never writes a byte (a run stopped in it must judge it).
   */
  begin(): void {
    this.begun += 1;
  }

  /**
   * The finished slices (each with its report), then, when the run stopped inside one (it wrote
   * something, or was begun), that one with `report: null` and whatever output it produced.
   */
  slices(): TestSlice[] {
    const open = this.current.stdout.length > 0 || this.current.stderr.length > 0 || this.begun > this.done.length;
    return open ? [...this.done, { ...this.peek(), report: null }] : [...this.done];
  }

  private peek(): Omit<TestSlice, 'report'> {
    return { stdout: Buffer.concat(this.current.stdout), stderr: Buffer.concat(this.current.stderr) };
  }

  /** Every byte of the program's output kept, in order, all tests together. */
  output(): { stdout: Buffer; stderr: Buffer } {
    const all = this.slices();
    return { stdout: Buffer.concat(all.map((s) => s.stdout)), stderr: Buffer.concat(all.map((s) => s.stderr)) };
  }

  artifacts(): { artifacts: RawArtifact[]; dropped: { count: number; names: string[] } } {
    return { artifacts: [...this.keptArtifacts], dropped: { ...this.dropped, names: [...this.dropped.names] } };
  }

  /** The supervisor's own stderr (its diagnostics when it failed), its last bytes. */
  harnessLog(): string {
    return this.log.toString('utf8');
  }
}
