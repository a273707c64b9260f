/**
 * What streaming costs a program that prints 100k lines: `for i in range(100000): print(i)` as
 * shipped, block-buffered, block-buffered with a thread flushing it every 50 ms, and line-buffered
 * (each set by the program itself, so the rows do not depend on what the harness does to the child's
 * stdout), each streamed through `POST /run` with
 * `Accept: text/event-stream` on a warm sandbox, beside the same programs in the bare host
 * interpreter writing to a pipe. Per run: the client's wall time to the `result`, the result's own
 * times, and what the job's event stream (`<prefix>:events:<id>`) held once the result was in.
 */
import { decodeJobEvent, jobEventsKey, type RunResult } from '@sbx/shared';
import { Redis } from 'ioredis';
import { REDIS_URL } from '../support/stack.js';
import { timeCommand } from './commands.js';
import { LINES, LINES_TIME_MS, streamed, type Watched } from './live-output.js';
import { percentile, type Spread, spread } from './stats.js';

const LOOP = `for i in range(${LINES}):\n    print(i)`;
const EXPECTED_LINES = Array.from({ length: LINES }, (_, i) => `${i}\n`).join('');

export const LINE_PROGRAMS = [
  { kind: 'shipped', label: 'as shipped (stdout left as the harness sets it)', code: LOOP },
  {
    kind: 'block',
    label: 'block-buffered (`sys.stdout.reconfigure(line_buffering=False)`)',
    code: `import sys\nsys.stdout.reconfigure(line_buffering=False)\n${LOOP}`,
  },
  {
    // What a harness could do instead of line buffering: a line waits at most 50 ms, and a program
    // printing fast still writes 8 KiB at a time.
    kind: 'timed',
    label: 'block-buffered, flushed every 50 ms by a thread',
    code: [
      'import sys, threading, time',
      'sys.stdout.reconfigure(line_buffering=False)',
      'def flusher():',
      '    while True:',
      '        time.sleep(0.05)',
      '        sys.stdout.flush()',
      'threading.Thread(target=flusher, daemon=True).start()',
      LOOP,
    ].join('\n'),
  },
  {
    kind: 'line',
    label: 'line-buffered (`sys.stdout.reconfigure(line_buffering=True)`)',
    code: `import sys\nsys.stdout.reconfigure(line_buffering=True)\n${LOOP}`,
  },
] as const;

/** What one job's event stream held once its result was stored. */
export interface StreamContents {
  /** XLEN: every entry, status and result marker included. */
  entries: number;
  stdoutEvents: number;
  stdoutBytes: number;
  truncated: boolean;
}

export async function readStream(redis: Redis, prefix: string, id: string): Promise<StreamContents> {
  const key = jobEventsKey(prefix, id);
  const entries = await redis.xlen(key);
  const out: StreamContents = { entries, stdoutEvents: 0, stdoutBytes: 0, truncated: false };
  for (const [entryId, fields] of await redis.xrange(key, '-', '+')) {
    const e = decodeJobEvent(entryId, fields);
    if (e?.type === 'truncated') out.truncated = true;
    if (e?.type !== 'stdout') continue;
    out.stdoutEvents += 1;
    out.stdoutBytes += 'text' in e.data ? Buffer.byteLength(e.data.text) : Buffer.from(e.data.base64, 'base64').length;
  }
  return out;
}

export type LinesKind = (typeof LINE_PROGRAMS)[number]['kind'];

export interface LinesRow {
  kind: LinesKind;
  label: string;
  runs: number;
  /** Client wall: the request to the `result` event. */
  client: Spread;
  /** p50s, seconds: the first `stdout` event, the result's `time`, `cpu_time` and `wall_time`. */
  firstByte: number;
  own: number;
  cpu: number;
  wall: number;
  /** p50s of the stream's contents and of the events the client got. */
  entries: number;
  stdoutEvents: number;
  stdoutBytes: number;
  clientEvents: number;
  /** The result's stdout, bytes (the smallest over the runs), and whether any stream said `truncated`. */
  keptBytes: number;
  truncated: boolean;
  warm: number;
  /** The same program in the bare host interpreter, stdout a pipe. */
  bare: Spread;
}

function checkLines(label: string, r: RunResult): void {
  if (r.status !== 'ok' || r.stdout !== EXPECTED_LINES)
    throw new Error(
      `${label}: expected ok and ${EXPECTED_LINES.length} bytes, got ${r.status} with ${r.stdout.length} bytes (${r.message ?? ''})`,
    );
}

function linesRow(
  program: { kind: LinesKind; label: string },
  runs: { w: Watched; s: StreamContents }[],
  bare: number[],
): LinesRow {
  const p50 = (pick: (x: { w: Watched; s: StreamContents }) => number) => percentile(runs.map(pick), 50);
  return {
    kind: program.kind,
    label: program.label,
    runs: runs.length,
    client: spread(runs.map((x) => x.w.done)),
    firstByte: p50((x) => x.w.stdout[0]?.at ?? Number.NaN),
    own: p50((x) => x.w.result.time),
    cpu: p50((x) => x.w.result.cpu_time ?? Number.NaN),
    wall: p50((x) => x.w.result.wall_time),
    entries: p50((x) => x.s.entries),
    stdoutEvents: p50((x) => x.s.stdoutEvents),
    stdoutBytes: p50((x) => x.s.stdoutBytes),
    clientEvents: p50((x) => x.w.events),
    keptBytes: Math.min(...runs.map((x) => Buffer.byteLength(x.w.result.stdout))),
    truncated: runs.some((x) => x.s.truncated),
    warm: runs.filter((x) => x.w.result.stages?.warm).length,
    bare: spread(bare),
  };
}

/** `runs` streamed runs of each program, each once `ready` resolves, then `runs` bare host runs of each. */
export async function measureLines(opts: {
  base: string;
  prefix: string;
  python: string;
  runs: number;
  ready: () => Promise<unknown>;
}): Promise<LinesRow[]> {
  const redis = new Redis(REDIS_URL);
  try {
    const rows: LinesRow[] = [];
    for (const p of LINE_PROGRAMS) {
      const runs: { w: Watched; s: StreamContents }[] = [];
      for (let i = 0; i < opts.runs; i++) {
        await opts.ready();
        const w = await streamed(opts.base, { code: p.code, limits: { time_ms: LINES_TIME_MS } }, 'run', 60_000);
        checkLines(p.label, w.result);
        runs.push({ w, s: await readStream(redis, opts.prefix, w.id) });
      }
      const bare: number[] = [];
      for (let i = 0; i < opts.runs; i++)
        bare.push(await timeCommand([opts.python, ['-I', '-S', '-c', p.code]], (out) => out === EXPECTED_LINES));
      rows.push(linesRow(p, runs, bare));
    }
    return rows;
  } finally {
    redis.disconnect();
  }
}

/** Bytes of the programs' whole stdout: what the output cap must hold for the rows to count. */
export const LINES_BYTES = Buffer.byteLength(EXPECTED_LINES);
