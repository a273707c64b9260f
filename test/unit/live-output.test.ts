import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JobEvent } from '@sbx/shared';
import { HarnessStream, JobEventPublisher } from '@sbx/worker';
import type { Redis } from 'ioredis';
import { FLUSH_BYTES, LiveOutput, MAX_SEGMENTS } from '../../apps/worker/src/live/live-output.js';
import { LiveRuns } from '../../apps/worker/src/live/live-runs.js';
import { mergeByStream, OutputCoalescer, type Segment } from '../../apps/worker/src/live/output-coalescer.js';
import { attach, reportFrame, stderrFrame, stdoutFrame } from '../support/wire-frames.js';

/** A clock of the test's own: timers fire only when it is advanced. */
function manualClock() {
  let now = 0;
  const timers = new Set<{ at: number; fn: () => void }>();
  return {
    schedule: (fn: () => void, ms: number) => {
      const timer = { at: now + ms, fn };
      timers.add(timer);
      return () => timers.delete(timer);
    },
    advance(ms: number) {
      now += ms;
      for (const timer of [...timers].sort((a, b) => a.at - b.at))
        if (timer.at <= now && timers.delete(timer)) timer.fn();
    },
    get pending() {
      return timers.size;
    },
  };
}

/** A LiveOutput on a manual clock; `events` is everything it published, in order. */
function live(opts: { capBytes?: number; encoding?: 'utf8' | 'base64'; maxEvents?: number } = {}) {
  const clock = manualClock();
  const events: JobEvent[] = [];
  const output = new LiveOutput({
    capBytes: opts.capBytes ?? 1 << 20,
    encoding: opts.encoding ?? 'utf8',
    publish: (batch) => events.push(...batch),
    schedule: clock.schedule,
    ...(opts.maxEvents ? { maxEvents: opts.maxEvents } : {}),
  });
  return { output, events, clock };
}

/** The text a viewer would show: each stream's events joined. */
const shown = (events: JobEvent[], type: 'stdout' | 'stderr') =>
  events
    .filter((e) => e.type === type)
    .map((e) => ('text' in e.data ? e.data.text : ''))
    .join('');

test('the first output after a quiet spell goes at once; what follows within the window waits for its end', () => {
  const { output, events, clock } = live();
  output.write('stdout', Buffer.from('first\n'));
  assert.deepEqual(events, [{ type: 'stdout', data: { text: 'first\n' } }], 'no wait for the first line');
  output.write('stdout', Buffer.from('second\n'));
  output.write('stdout', Buffer.from('third\n'));
  assert.equal(events.length, 1, 'gathered');
  clock.advance(15);
  assert.deepEqual(events.at(-1), { type: 'stdout', data: { text: 'second\nthird\n' } }, 'one event for the window');
  clock.advance(15);
  assert.equal(clock.pending, 0, 'a window with nothing in it closes');
  output.write('stdout', Buffer.from('after a pause\n'));
  assert.equal(events.length, 3, 'quiet again: sent at once');
});

test('a window that gathers FLUSH_BYTES sends at once', () => {
  const { output, events } = live();
  output.write('stdout', Buffer.from('a'));
  output.write('stdout', Buffer.alloc(FLUSH_BYTES, 'b'));
  assert.equal(events.length, 2);
  assert.equal(shown(events, 'stdout').length, FLUSH_BYTES + 1);
});

test('stdout and stderr keep their order; past MAX_SEGMENTS in a window each stream is merged', () => {
  const { output, events, clock } = live();
  output.write('stdout', Buffer.from('0'));
  for (let i = 1; i <= 4; i++) output.write(i % 2 ? 'stderr' : 'stdout', Buffer.from(String(i)));
  clock.advance(15);
  assert.deepEqual(
    events.map((e) => [e.type, 'text' in e.data ? e.data.text : '']),
    [
      ['stdout', '0'],
      ['stderr', '1'],
      ['stdout', '2'],
      ['stderr', '3'],
      ['stdout', '4'],
    ],
  );
  events.length = 0;
  for (let i = 0; i < MAX_SEGMENTS * 4; i++) output.write(i % 2 ? 'stderr' : 'stdout', Buffer.from(String(i % 10)));
  clock.advance(15);
  assert.deepEqual(
    events.map((e) => e.type),
    ['stdout', 'stderr'],
    'one event per stream, in the order each first wrote',
  );
  const written = (parity: number) =>
    Array.from({ length: MAX_SEGMENTS * 4 }, (_, i) => i)
      .filter((i) => i % 2 === parity)
      .map((i) => String(i % 10))
      .join('');
  assert.equal(shown(events, 'stdout'), written(0), 'each stream in its own order');
  assert.equal(shown(events, 'stderr'), written(1));
});

test('UTF-8 is never split, wherever the frames cut a character', () => {
  const text = 'añ€😀z';
  const bytes = Buffer.from(text);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const { output, events, clock } = live();
    output.write('stdout', bytes.subarray(0, cut));
    clock.advance(15);
    output.write('stdout', bytes.subarray(cut));
    output.end();
    assert.equal(shown(events, 'stdout'), text, `cut at ${cut}`);
    for (const e of events) assert.ok(!('text' in e.data) || !e.data.text.includes('\uFFFD'), `cut at ${cut}`);
  }
});

test('bytes that are not UTF-8, and a character left incomplete at the end, become U+FFFD as in the result', () => {
  const { output, events } = live();
  output.write('stderr', Buffer.from([0x61, 0xff, 0x62, 0xe2, 0x82]));
  output.end();
  assert.equal(shown(events, 'stderr'), Buffer.from([0x61, 0xff, 0x62, 0xe2, 0x82]).toString('utf8'));
});

test('the cap holds for what is streamed: exactly cap bytes over both streams, then one truncated, then nothing', () => {
  const { output, events, clock } = live({ capBytes: 10 });
  output.write('stdout', Buffer.from('12345'));
  output.write('stderr', Buffer.from('abc'));
  output.write('stdout', Buffer.from('6789'));
  output.write('stdout', Buffer.from('more'));
  clock.advance(100);
  output.end();
  assert.equal(shown(events, 'stdout'), '1234567', 'cut at the cap, mid-write');
  assert.equal(shown(events, 'stderr'), 'abc');
  assert.deepEqual(
    events.filter((e) => e.type === 'truncated'),
    [{ type: 'truncated', data: { limit_bytes: 10 } }],
  );
  assert.equal(events.at(-1)?.type, 'truncated', 'the last event');
});

test('base64 jobs: each event is the base64 of its own exact bytes', () => {
  const { output, events, clock } = live({ encoding: 'base64' });
  const raw = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0x00]);
  output.write('stdout', raw.subarray(0, 1));
  output.write('stdout', raw.subarray(1));
  clock.advance(15);
  const decoded = Buffer.concat(
    events.map((e) => ('base64' in e.data ? Buffer.from(e.data.base64, 'base64') : Buffer.alloc(0))),
  );
  assert.deepEqual(decoded, raw);
});

test('a run that would publish past its event budget ends its streaming with truncated (reason events)', () => {
  const { output, events, clock } = live({ maxEvents: 3 });
  for (let i = 0; i < 5; i++) {
    output.write('stdout', Buffer.from(`${i}\n`));
    clock.advance(30);
  }
  assert.deepEqual(
    events.map((e) => e.type),
    ['stdout', 'stdout', 'stdout', 'truncated'],
  );
  assert.deepEqual(events.at(-1)?.data, { limit_bytes: 1 << 20, reason: 'events' });
});

test("test-case output carries its test index, and a new test never finishes the last one's character", () => {
  const { output, events } = live();
  output.write('stdout', Buffer.from([0xc3]), 0);
  output.write('stdout', Buffer.from('b'), 1);
  output.end();
  const chunks = events.map((e) => e.data);
  assert.deepEqual(chunks, [
    { text: '\uFFFD', test: 0 },
    { text: 'b', test: 1 },
  ]);
});

test('mergeByStream keeps first-appearance order and each stream in order', () => {
  const seg = (stream: 'stdout' | 'stderr', ...pieces: string[]): Segment<string> => ({
    stream,
    test: undefined,
    pieces,
  });
  assert.deepEqual(mergeByStream([seg('stderr', 'a'), seg('stdout', 'b'), seg('stderr', 'c', 'd')]), [
    seg('stderr', 'a', 'c', 'd'),
    seg('stdout', 'b'),
  ]);
});

test('after its end a run publishes nothing more (a run given up may still be writing)', () => {
  const { output, events, clock } = live();
  output.write('stdout', Buffer.from('in time\n'));
  output.end();
  output.write('stdout', Buffer.from('too late\n'));
  clock.advance(100);
  output.end();
  assert.equal(shown(events, 'stdout'), 'in time\n');
});

test('the coalescer ends cleanly: held output goes, no timer is left', () => {
  const clock = manualClock();
  const flushed: Segment<string>[][] = [];
  const c = new OutputCoalescer<string>({
    flush: (s) => flushed.push(s),
    windowMs: 15,
    flushBytes: 100,
    maxSegments: 8,
    schedule: clock.schedule,
  });
  c.push('stdout', undefined, 'a', 1);
  c.push('stdout', undefined, 'b', 1);
  c.end();
  assert.equal(flushed.length, 2);
  assert.equal(clock.pending, 0);
});

test('a run starting: running; a retry also says run first and restarts the stream', () => {
  const published: [JobEvent[], boolean | undefined][] = [];
  const runs = new LiveRuns({
    writerFor: () => ({ publish: (events, restart) => published.push([events, restart]) }),
    capBytes: 100,
  });
  runs.start('j', { attempt: 1, token: 't' });
  runs.start('j', { attempt: 2, token: 't' });
  assert.deepEqual(published, [
    [[{ type: 'status', data: { state: 'running', attempt: 1 } }], false],
    [
      [
        { type: 'run', data: { attempt: 2 } },
        { type: 'status', data: { state: 'running', attempt: 2 } },
      ],
      true,
    ],
  ]);
});

test('the harness stream hands over only the program bytes, as they arrive, with the test in progress', () => {
  const seen: [string, string, number | undefined][] = [];
  const stream = new HarnessStream({
    keepOutputBytes: 4,
    onOverflow: () => {},
    onOutput: (s, payload, t) => seen.push([s, payload.toString(), t]),
  });
  stream.push(attach(1, stdoutFrame('hello')));
  stream.push(attach(2, 'sbx harness: its own log\n'));
  stream.push(attach(1, stderrFrame('err')));
  stream.push(attach(1, reportFrame()));
  assert.deepEqual(
    seen,
    [
      ['stdout', 'hello', undefined],
      ['stderr', 'err', undefined],
    ],
    'everything the program wrote, past the keep cap too (the live output keeps its own); no report, no log',
  );
  const tests = new HarnessStream({
    keepOutputBytes: 100,
    onOverflow: () => {},
    onOutput: (s, p, t) => seen.push([s, p.toString(), t]),
  });
  seen.length = 0;
  tests.begin();
  tests.push(attach(1, stdoutFrame('t0')));
  tests.push(attach(1, reportFrame({ test: 0 })));
  tests.begin();
  tests.push(attach(1, stdoutFrame('t1')));
  assert.deepEqual(seen, [
    ['stdout', 't0', 0],
    ['stdout', 't1', 1],
  ]);
});

test("a hook that throws is the viewer's trouble, never the run's", () => {
  const stream = new HarnessStream({
    keepOutputBytes: 100,
    onOverflow: () => {},
    onOutput: () => {
      throw new Error('viewer trouble');
    },
  });
  stream.push(attach(1, stdoutFrame('kept')));
  assert.equal(stream.output().stdout.toString(), 'kept');
  assert.equal(stream.fault, null);
});

test("publishing that fails is logged once per run, never thrown at it, and stops that run's events only", async () => {
  const warned: string[] = [];
  let calls = 0;
  const failing = {
    eval: async () => {
      calls += 1;
      throw new Error('OOM command not allowed when used memory > maxmemory');
    },
  } as unknown as Pick<Redis, 'eval'>;
  const publisher = new JobEventPublisher(failing, {
    eventsKey: (id) => `events:${id}`,
    lockKey: (id) => `lock:${id}`,
    ttlSeconds: 60,
    log: { warn: (_obj: unknown, message?: string) => warned.push(message ?? '') },
  } as ConstructorParameters<typeof JobEventPublisher>[1]);
  const running: JobEvent = { type: 'status', data: { state: 'running', attempt: 1 } };
  const run = publisher.forRun('j1', 'tok');
  run.publish([running]);
  await new Promise((r) => setImmediate(r));
  run.publish([running]);
  run.publish([running]);
  await new Promise((r) => setImmediate(r));
  assert.equal(warned.length, 1, 'once for the run');
  assert.equal(calls, 1, 'after a failure the rest of the run is dropped, not retried');
  publisher.forRun('j2', undefined).publish([running]);
  await new Promise((r) => setImmediate(r));
  assert.equal(warned.length, 2, 'another run is its own');
});
