/** The live-output rows of the report (issue 21): first byte beside a plain POST /run, and 100k lines. */
import type { LinesRow } from './live-lines.js';
import { type BurstRows, type FirstByteRows, LINES_TIME_MS, MODES, PLAIN, type WaitSummary } from './live-output.js';
import { mark, ms, ratio, table } from './markdown.js';
import type { Spread } from './stats.js';

/** Every part is optional: a failure part-way keeps what was measured before it. */
export interface LiveResults {
  idle?: FirstByteRows;
  burst?: BurstRows;
  lines?: LinesRow[];
  /** SBX_MAX_OUTPUT_BYTES of the stack, and the 100k-line programs' whole stdout. */
  capBytes: number;
  linesBytes: number;
  /** SBX_DEFAULT_TIME_MS: the 100k-line jobs ask for more, and the report says which would not have fit. */
  defaultTimeMs: number;
}

/** Issue 21: T_fb within this of the plain warm POST /run measured in the same rounds. */
export const FIRST_BYTE_SLACK_S = 0.05;

const signed = (s: number) => (Number.isNaN(s) ? 'n/a' : `${s < 0 ? '−' : '+'}${ms(Math.abs(s))}`);
const kb = (bytes: number) => `${(bytes / 1000).toFixed(1)} kB`;

export function liveTargetRows(r: LiveResults): string[][] {
  const conditions: [string, FirstByteRows | undefined][] = [
    ['idle', r.idle],
    [`under a ${r.burst?.jobs ?? ''}-job batch burst`, r.burst],
  ];
  return conditions.flatMap(([label, rows]) =>
    (rows?.modes ?? []).map((m) => {
      const limit = rows ? rows.plain.p50 + FIRST_BYTE_SLACK_S : Number.NaN;
      return [
        `p50 first \`stdout\` event ≤ plain \`POST /run\` p50 + ${ms(FIRST_BYTE_SLACK_S)} (${label}, ${m.mode === 'run' ? 'streamed POST /run' : 'POST /jobs + events'})`,
        `${ms(m.firstByte.p50)} (limit ${ms(limit)}, ${signed(m.firstByte.p50 - (rows?.plain.p50 ?? Number.NaN))} vs plain)`,
        mark(m.firstByte.p50 <= limit),
      ];
    }),
  );
}

function firstByteTable(title: string, rows: FirstByteRows): string {
  const row = (name: string, s: Spread, w?: WaitSummary) => [
    name,
    String(s.n),
    ms(s.p50),
    ms(s.p95),
    ...(w ? [String(w.warm), ms(w.queued), ms(w.sandbox)] : ['', '', '']),
  ];
  const out: string[][] = [
    row(`plain \`POST /run\` of \`${PLAIN}\`, client wall (baseline)`, rows.plain, rows.plainWait),
  ];
  for (const m of rows.modes) {
    const how = MODES[m.mode];
    out.push(
      row(`${how}: first \`stdout\` event (T_fb)`, m.firstByte, m.wait),
      [
        `${how}: T_fb − baseline`,
        '',
        signed(m.firstByte.p50 - rows.plain.p50),
        signed(m.firstByte.p95 - rows.plain.p95),
        '',
        '',
        '',
      ],
      row(`${how}: first line's event to the second's (gap)`, m.gap),
      row(`${how}: \`result\` event (T_done)`, m.done),
    );
  }
  return table([title, 'runs', 'p50', 'p95', 'warm', 'queued stage p50', 'sandbox stage p50'], out);
}

function linesTables(lines: readonly LinesRow[]): string {
  const time = lines.map((l) => [
    l.label,
    `${l.runs} (${l.warm} warm)`,
    ms(l.client.p50),
    ms(l.client.p95),
    ms(l.firstByte),
    ms(l.own),
    ms(l.cpu),
    ms(l.wall),
    ms(l.bare.p50),
  ]);
  const stream = lines.map((l) => [
    l.label,
    String(l.entries),
    String(l.stdoutEvents),
    kb(l.stdoutBytes),
    String(l.clientEvents),
    kb(l.keptBytes),
    l.truncated ? 'yes' : 'no',
  ]);
  return [
    table(
      [
        '`for i in range(100000): print(i)`',
        'runs',
        'client → `result` p50',
        'p95',
        'first `stdout` p50',
        'result `time` p50',
        '`cpu_time` p50',
        '`wall_time` p50',
        'bare host python p50',
      ],
      time,
    ),
    table(
      [
        'its event stream (p50 over the runs)',
        'entries (XLEN)',
        '`stdout` events',
        'stdout streamed',
        'events the client got',
        'result stdout (least)',
        '`truncated`',
      ],
      stream,
    ),
  ].join('\n\n');
}

function linesVerdict(lines: readonly LinesRow[], defaultTimeMs: number): string {
  const block = lines.find((l) => l.kind === 'block');
  if (!block) return '';
  const against = (kind: LinesRow['kind'], name: string) => {
    const row = lines.find((l) => l.kind === kind);
    if (!row) return '';
    const cost = (pick: (l: LinesRow) => number) =>
      `${signed(pick(row) - pick(block))} (${ratio(pick(row) / pick(block))})`;
    return `${name} against block buffering, p50: client ${cost((l) => l.client.p50)}, the program's own time ${cost((l) => l.own)}, its CPU ${cost((l) => l.cpu)}; on the bare host ${cost((l) => l.bare.p50)}.`;
  };
  const over = lines.filter((l) => l.own * 1000 > defaultTimeMs).map((l) => l.label);
  const limit = `The jobs asked for a ${LINES_TIME_MS / 1000} s time limit; ${
    over.length
      ? `at the default of ${defaultTimeMs / 1000} s these would have timed out: ${over.join('; ')}.`
      : `every one would have fit the default of ${defaultTimeMs / 1000} s.`
  }`;
  return [against('line', 'Line buffering'), against('timed', 'A 50 ms flushing thread'), limit].join(' ');
}

export function liveSection(r: LiveResults): string {
  const parts = [
    `\`print("x", flush=True)\`, \`time.sleep(1)\`, \`print("y")\`, watched as a viewer watches it. T_fb runs from just before the request is sent to the first \`stdout\` event, T_done to the \`result\` event; the gap from the first line's event to the second's (about a second when the lines stream apart). Each round is a plain \`POST /run\` of \`${PLAIN}\` (the baseline) and then the streamed requests, one at a time on the same service, so drift touches both alike.`,
  ];
  if (r.idle) parts.push(firstByteTable('idle service (pool refilled before each request)', r.idle));
  const b = r.burst;
  if (b)
    parts.push(
      firstByteTable(`under a burst of ${b.jobs} batch jobs (\`POST /jobs/batch\`)`, b),
      `The burst took ${b.seconds.toFixed(1)} s from submission to its last result; rounds went one after another until its last job had finished (${b.rounds} sent, ${b.inside} ended inside it: only those count). The streamed jobs go by \`POST /run\`, the interactive lane, as the baseline does; a \`POST /jobs\` would queue behind the burst in the batch lane.`,
    );
  if (r.lines?.length)
    parts.push(
      linesTables(r.lines),
      `Each streamed by \`POST /run\` with \`Accept: text/event-stream\` from a warm sandbox (the pool refilled before each), the stream's contents read from Redis (\`<prefix>:events:<id>\`) once the result was in; the bare host runs write to a pipe. The whole stdout is ${kb(r.linesBytes)}, under the output cap (\`SBX_MAX_OUTPUT_BYTES\`, ${r.capBytes.toLocaleString('en')} bytes), so each result holds all of it. ${linesVerdict(r.lines, r.defaultTimeMs)}`,
    );
  return parts.join('\n\n');
}
