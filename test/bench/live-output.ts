/**
 * The live-output rows of `npm run bench` (issue 21), through the real service as a viewer sees it:
 * - first byte: `print("x", flush=True)`, a second's sleep, `print("y")`, streamed by `POST /run`
 *   with `Accept: text/event-stream` and by `POST /jobs` then `GET /jobs/:id/events`; from the
 *   request to the first `stdout` event (T_fb), to the `result` (T_done), and the gap between the
 *   two lines' events. Beside it, in the same rounds, a plain `POST /run` of `print(1)` (the
 *   baseline the goal is set against: T_fb within 50 ms of it). On an idle service (the pool
 *   refilled before each request) and while a batch burst is being worked through.
 * - 100k lines: `for i in range(100000): print(i)` as shipped, block-buffered and line-buffered,
 *   streamed: run time (the client's, the result's) and what the job's event stream holds.
 *
 * Sizes: BENCH_LIVE (20) rounds idle, BENCH_LIVE_BURST (20) rounds at most under a burst of
 * BENCH_LIVE_BURST_JOBS (200), BENCH_LIVE_LINES (5) runs of each 100k-line program.
 */
import type { JobRequest, RunResult } from '@sbx/shared';
import { openEvents, type SseStream } from '../support/sse.js';
import { CODE, EXPECTED } from './commands.js';
import type { SbxHttp } from './sbx-http.js';
import { percentile, type Spread, spread } from './stats.js';

/** The issue's program: a line, a second, a line. Flushed at once: a pipe would hold it otherwise. */
export const PRINT_SLEEP_PRINT = 'print("x", flush=True)\nimport time\ntime.sleep(1)\nprint("y")';
const PSP_EXPECTED = 'x\ny\n';
/** The baseline: the issue's "plain warm POST /run of print(1)". */
export const PLAIN = 'print(1)';
const PLAIN_EXPECTED = '1\n';

export const LINES = 100_000;
/** Time limit the 100k-line jobs ask for: line-buffered under gVisor is a write(2) per line. */
export const LINES_TIME_MS = 20_000;
/** What the bench's stack needs for them: a job may ask for LINES_TIME_MS (the default stays). */
export const LIVE_STACK_ENV = { SBX_MAX_TIME_MS: String(LINES_TIME_MS) };

/** How the streamed job is asked for: one round trip, or a submission and a viewer. */
export const MODES = {
  run: '`POST /run` with `Accept: text/event-stream`',
  jobs: '`POST /jobs`, then `GET /jobs/:id/events`',
} as const;
export type Mode = keyof typeof MODES;

/** What a viewer saw of one job, in seconds from just before its request was sent. */
export interface Watched {
  id: string;
  /** Each `stdout` event: when it arrived and its text. */
  stdout: { at: number; text: string }[];
  /** The `result` event. */
  done: number;
  events: number;
  result: RunResult;
}

interface JobView {
  id: string;
  state: string;
  result?: RunResult;
}

/** Reads a job's events until its `result`. */
async function watch(stream: SseStream, started: number, timeoutMs: number): Promise<Watched> {
  const stdout: Watched['stdout'] = [];
  let events = 0;
  try {
    for (let e = await stream.next(timeoutMs); e; e = await stream.next(timeoutMs)) {
      const at = (performance.now() - started) / 1000;
      events += 1;
      if (e.event === 'stdout') stdout.push({ at, text: (e.data as { text?: string }).text ?? '' });
      if (e.event !== 'result') continue;
      const view = e.data as JobView;
      if (!view.result) throw new Error(`a result event without a result: ${JSON.stringify(view)}`);
      return { id: view.id, stdout, done: at, events, result: view.result };
    }
  } finally {
    stream.close();
  }
  throw new Error('the stream ended without a result');
}

const JSON_BODY = { 'content-type': 'application/json' };

/** One job streamed as `mode` asks, watched to its result. */
export async function streamed(base: string, job: JobRequest, mode: Mode, timeoutMs = 30_000): Promise<Watched> {
  const started = performance.now();
  if (mode === 'run') {
    const stream = await openEvents(`${base}/run`, JSON_BODY, { method: 'POST', body: JSON.stringify(job) });
    if (stream.status !== 200) throw new Error(`streamed POST /run answered ${stream.status}`);
    return watch(stream, started, timeoutMs);
  }
  const res = await fetch(`${base}/jobs`, { method: 'POST', headers: JSON_BODY, body: JSON.stringify(job) });
  const accepted = (await res.json()) as { id?: string; events_url?: string };
  if (res.status !== 202 || !accepted.id) throw new Error(`POST /jobs answered ${res.status}`);
  // The URL an EventSource would open where the API gives one (`events_url`); the events route otherwise.
  const stream = await openEvents(`${base}${accepted.events_url ?? `/jobs/${accepted.id}/events`}`);
  if (stream.status !== 200) throw new Error(`GET events answered ${stream.status}`);
  return watch(stream, started, timeoutMs);
}

/** Where a job waited before it ran, from its result's `stages` (seconds). */
interface Wait {
  warm: boolean;
  queued: number;
  sandbox: number;
}

const waitOf = (r: RunResult): Wait => ({
  warm: r.stages?.warm ?? false,
  queued: r.stages?.queued ?? Number.NaN,
  sandbox: r.stages?.sandbox ?? Number.NaN,
});

/** Warm sandboxes among some jobs, and the p50s of their queued and sandbox stages. */
export interface WaitSummary {
  warm: number;
  queued: number;
  sandbox: number;
}

const summariseWaits = (xs: readonly Wait[]): WaitSummary => ({
  warm: xs.filter((x) => x.warm).length,
  queued: percentile(
    xs.map((x) => x.queued),
    50,
  ),
  sandbox: percentile(
    xs.map((x) => x.sandbox),
    50,
  ),
});

/** One print-sleep-print as a viewer saw it. */
export interface FirstByte {
  firstByte: number;
  /** From the first line's event to the one that brought the second. */
  gap: number;
  done: number;
  wait: Wait;
  /** Date.now() when it ended: to tell whether a burst was still running. */
  endedAt: number;
}

function firstByteOf(w: Watched): FirstByte {
  const { result } = w;
  if (result.status !== 'ok' || result.stdout !== PSP_EXPECTED)
    throw new Error(`print-sleep-print: expected ok and "x\\ny\\n", got ${JSON.stringify(result)}`);
  const first = w.stdout[0];
  const second = w.stdout.find((e) => e.text.includes('y'));
  if (!first || !second || first.text.includes('y'))
    throw new Error(`print-sleep-print: the two lines did not come apart: ${JSON.stringify(w.stdout)}`);
  return {
    firstByte: first.at,
    gap: second.at - first.at,
    done: w.done,
    wait: waitOf(result),
    endedAt: Date.now(),
  };
}

export interface Samples {
  plain: { seconds: number; wait: Wait; endedAt: number }[];
  streamed: Record<Mode, FirstByte[]>;
}

const emptySamples = (): Samples => ({ plain: [], streamed: { run: [], jobs: [] } });

export interface LiveContext {
  sbx: SbxHttp;
  base: string;
  /** Resolves when the next request may go (the pool refilled, on an idle service). */
  ready: () => Promise<unknown>;
}

/** A plain POST /run, then print-sleep-print streamed in each mode: interleaved, so drift hits all alike. */
async function round(ctx: LiveContext, modes: readonly Mode[], into: Samples): Promise<void> {
  await ctx.ready();
  const plain = await ctx.sbx.run({ code: PLAIN });
  if (plain.result.status !== 'ok' || plain.result.stdout !== PLAIN_EXPECTED)
    throw new Error(`print(1): expected ok and "1\\n", got ${JSON.stringify(plain.result)}`);
  into.plain.push({ seconds: plain.seconds, wait: waitOf(plain.result), endedAt: Date.now() });
  for (const mode of modes) {
    await ctx.ready();
    into.streamed[mode].push(firstByteOf(await streamed(ctx.base, { code: PRINT_SLEEP_PRINT }, mode)));
  }
}

/** One condition's figures: the baseline, and each mode's T_fb, gap and T_done. */
export interface FirstByteRows {
  plain: Spread;
  plainWait: WaitSummary;
  modes: { mode: Mode; firstByte: Spread; gap: Spread; done: Spread; wait: WaitSummary }[];
}

function summarise(s: Samples, modes: readonly Mode[]): FirstByteRows {
  return {
    plain: spread(s.plain.map((p) => p.seconds)),
    plainWait: summariseWaits(s.plain.map((p) => p.wait)),
    modes: modes.map((mode) => {
      const xs = s.streamed[mode];
      return {
        mode,
        firstByte: spread(xs.map((x) => x.firstByte)),
        gap: spread(xs.map((x) => x.gap)),
        done: spread(xs.map((x) => x.done)),
        wait: summariseWaits(xs.map((x) => x.wait)),
      };
    }),
  };
}

/** `rounds` rounds one request at a time on an idle service, each request once `ctx.ready` resolves. */
export async function measureFirstByteIdle(ctx: LiveContext, rounds: number): Promise<FirstByteRows> {
  const samples = emptySamples();
  const modes = Object.keys(MODES) as Mode[];
  for (let i = 0; i < rounds; i++) await round(ctx, modes, samples);
  return summarise(samples, modes);
}

export interface BurstRows extends FirstByteRows {
  jobs: number;
  /** The burst's span: its submission to its last result's finished_at. */
  seconds: number;
  /** Rounds sent, and how many ended before the burst's last job finished (only those are counted). */
  rounds: number;
  inside: number;
}

/**
 * Rounds while `jobs` batch jobs (POST /jobs/batch: the batch lane) are worked through, until the
 * burst's last job has finished or `rounds` were sent. The streamed jobs go by POST /run, the
 * interactive lane, as the baseline does: a POST /jobs would queue behind the burst in the batch lane.
 */
export async function measureFirstByteUnderBurst(
  ctx: Omit<LiveContext, 'ready'>,
  rounds: number,
  jobs: number,
): Promise<BurstRows> {
  const submittedAt = Date.now();
  const ids = await ctx.sbx.submit(Array.from({ length: jobs }, () => ({ code: CODE })));
  const last = ids.at(-1) as string;
  const samples = emptySamples();
  let sent = 0;
  // Jobs of one tenant in one lane start in order: the last one done, the burst is over.
  while (sent < rounds && (await ctx.sbx.state(last)) !== 'completed') {
    await round({ ...ctx, ready: async () => undefined }, ['run'], samples);
    sent += 1;
  }
  const results = await ctx.sbx.results(ids);
  for (const r of results)
    if (r.status !== 'ok' || r.stdout !== EXPECTED) throw new Error(`burst job: ${JSON.stringify(r)}`);
  const lastFinished = Math.max(...results.map((r) => Date.parse(r.finished_at)));
  const inside: Samples = {
    plain: samples.plain.filter((p) => p.endedAt <= lastFinished),
    streamed: { run: samples.streamed.run.filter((x) => x.endedAt <= lastFinished), jobs: [] },
  };
  if (inside.plain.length === 0 || inside.streamed.run.length === 0)
    throw new Error('the burst was over before a round under it ended');
  return {
    ...summarise(inside, ['run']),
    jobs,
    seconds: (lastFinished - submittedAt) / 1000,
    rounds: sent,
    inside: Math.min(inside.plain.length, inside.streamed.run.length),
  };
}
