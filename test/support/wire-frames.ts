import { HarnessStream, WIRE } from '@sbx/worker';

/**
 * Bytes of the worker-harness wire protocol (infra/sandbox/harness/wire.json) as the supervisor
 * writes them, and of Docker's attach multiplexing around them, for the unit tests of HarnessStream.
 */
const bytes = (payload: string | Buffer) => (Buffer.isBuffer(payload) ? payload : Buffer.from(payload));

/** One frame: kind (1 byte), payload length (4 bytes, big-endian), payload. */
export function wireFrame(kind: number, payload: string | Buffer): Buffer {
  const body = bytes(payload);
  const header = Buffer.alloc(WIRE.headerBytes);
  header[0] = kind;
  header.writeUInt32BE(body.length, 1);
  return Buffer.concat([header, body]);
}

/** Only a frame's header, claiming `size` bytes of payload (none of which follows). */
export function frameHeader(kind: number, size: number): Buffer {
  const header = Buffer.alloc(WIRE.headerBytes);
  header[0] = kind;
  header.writeUInt32BE(size, 1);
  return header;
}

export const stdoutFrame = (payload: string | Buffer) => wireFrame(WIRE.kinds.stdout, payload);
export const stderrFrame = (payload: string | Buffer) => wireFrame(WIRE.kinds.stderr, payload);

/** A report as supervisor.py's judge() writes it, with `extra` fields on top. */
export const reportBody = (extra: Record<string, unknown> = {}) => ({
  v: WIRE.version,
  timed_out: false,
  cpu_limit: false,
  exit_code: 0,
  signal: null,
  time: 0.01,
  cpu_time: 0.01,
  max_rss_kb: 9000,
  base_rss_kb: 0,
  memory_error: false,
  ended_itself: true,
  violation: null,
  ...extra,
});
export const reportFrame = (extra: Record<string, unknown> = {}) =>
  wireFrame(WIRE.kinds.report, JSON.stringify(reportBody(extra)));

/** An artifact frame as sbx_artifacts.send_artifacts writes it: a JSON header line, then the raw bytes. */
export function artifactFrame(
  name: string,
  data: string | Buffer,
  /** null: no mime field at all. */
  mime: string | null = 'text/plain',
  header: Record<string, unknown> = {},
): Buffer {
  const content = bytes(data);
  const line = JSON.stringify({ name, ...(mime === null ? {} : { mime }), bytes: content.length, ...header });
  return wireFrame(WIRE.kinds.artifact, Buffer.concat([Buffer.from(`${line}\n`), content]));
}

export const doneFrame = (exitCode: number) => wireFrame(WIRE.kinds.done, JSON.stringify({ exit_code: exitCode }));

/** One frame of Docker's attach multiplexing: stream (1 stdout, 2 stderr), 3 zero bytes, length, payload. */
export function attach(stream: 1 | 2, payload: string | Buffer): Buffer {
  const body = bytes(payload);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

export interface Decoding {
  stream: HarnessStream;
  overflows: number;
  /** What onReport was handed, a copy per call: [index, stdout, stderr, exit code]. */
  reports: [number, string, string, number | undefined][];
  dones: number[];
}

/** A HarnessStream with its callbacks recorded. */
export function decoder(
  opts: { keepOutputBytes?: number; artifacts?: { maxCount: number; maxBytes: number } } = {},
): Decoding {
  const seen: Decoding = { stream: undefined as unknown as HarnessStream, overflows: 0, reports: [], dones: [] };
  seen.stream = new HarnessStream({
    keepOutputBytes: opts.keepOutputBytes ?? 1 << 20,
    onOverflow: () => {
      seen.overflows += 1;
    },
    artifacts: opts.artifacts,
    onReport: (slice, index) =>
      seen.reports.push([
        index,
        slice.stdout.toString('latin1'),
        slice.stderr.toString('latin1'),
        slice.report?.exit_code,
      ]),
    onDone: (exitCode) => seen.dones.push(exitCode),
  });
  return seen;
}

/** Decodes the supervisor's stdout bytes (one attach frame each, in the given slices). */
export function decode(frames: Buffer[], opts: Parameters<typeof decoder>[0] = {}): Decoding {
  const seen = decoder(opts);
  for (const f of frames) seen.stream.push(attach(1, f));
  return seen;
}
