import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type JobData, outputMatches } from '@sbx/shared';
import { HarnessStream, judgeTests, type RawRun } from '@sbx/worker';
import { attach, reportFrame, stderrFrame, stdoutFrame } from '../support/wire-frames.js';

const opts = (comparator: 'exact' | 'trailing_whitespace' | 'float', floatTolerance = 1e-6) => ({
  comparator,
  floatTolerance,
});

test('exact compares bytes', () => {
  assert.ok(outputMatches('a\n', 'a\n', opts('exact')));
  assert.ok(!outputMatches('a', 'a\n', opts('exact')));
});

test('trailing whitespace ignores line-end spaces, CRLF and trailing blank lines, nothing else', () => {
  const o = opts('trailing_whitespace');
  assert.ok(outputMatches('a  \r\nb\n\n\n', 'a\nb', o));
  assert.ok(!outputMatches(' a\n', 'a\n', o), 'leading space matters');
  assert.ok(!outputMatches('a\n\nb\n', 'a\nb\n', o), 'inner blank lines matter');
  assert.ok(!outputMatches('', 'x', o));
});

test('float accepts numbers within relative tolerance and compares other tokens exactly', () => {
  const o = opts('float', 1e-4);
  assert.ok(outputMatches('0.333333\n', '0.33333', o));
  assert.ok(outputMatches('1e3 x', '1000.0 x', o));
  assert.ok(!outputMatches('0.67', '0.666666', o));
  assert.ok(!outputMatches('1 2', '1 2 3', o));
  assert.ok(!outputMatches('1 y', '1 x', o));
  assert.ok(outputMatches('inf nan', 'Infinity NaN', o));
  assert.ok(!outputMatches('inf', '1e308', o));
});

// Splitting a run's output per test is HarnessStream's now (reports delimit the slices):
// test/unit/harness-stream.test.ts. Here: how the slices it gives are judged.

const LIMITS = { time_ms: 1000, memory_mb: 64 };
const job = (expected: string[], extra: Partial<JobData> = {}) => ({
  code: 'print(int(input()) ** 2)',
  stdin: '',
  limits: LIMITS,
  policy: 'standard' as const,
  submitted_at: new Date(0).toISOString(),
  request_id: 'r',
  tests: expected.map((e, i) => ({ stdin: `${i}\n`, expected_output: e, limits: LIMITS })),
  ...extra,
});

/** A run as DockerSandbox.run hands it over: the stream's slices, and how the run ended. */
function rawOf(stream: HarnessStream, end: Partial<RawRun> = {}): RawRun {
  const slices = stream.slices();
  return {
    killedBy: null,
    oomKilled: false,
    exitCode: 0,
    ...stream.output(),
    report: slices.at(-1)?.report ?? null,
    tests: slices,
    outputOverflow: stream.overflow,
    wallTime: 1,
    completed: false,
    streamCut: false,
    engineKilled: false,
    artifacts: [],
    artifactsDropped: { count: 0, names: [] },
    artifactsSkipped: { count: 0, names: [] },
    protocolFault: null,
    harnessLog: '',
    ...end,
  };
}

function streamOf(frames: Buffer[], begun: number): HarnessStream {
  const stream = new HarnessStream({ keepOutputBytes: 1000, onOverflow: () => {} });
  for (let i = 0; i < begun; i++) stream.begin();
  for (const f of frames) stream.push(attach(1, f));
  return stream;
}

test('each finished test is judged on its own slice and report', () => {
  const stream = streamOf(
    [
      stdoutFrame('0\n'),
      reportFrame({ test: 0 }),
      stdoutFrame('2\n'),
      stderrFrame('warn'),
      reportFrame({ test: 1 }),
      stderrFrame('Traceback'),
      reportFrame({ test: 2, exit_code: 1 }),
    ],
    3,
  );
  const judged = judgeTests(job(['0', '1', '4']), rawOf(stream, { completed: true }), 100);
  assert.deepEqual(
    judged.tests.map((t) => [t.verdict, t.stdout, t.stderr, t.exit_code]),
    [
      ['accepted', '0\n', '', 0],
      ['wrong_answer', '2\n', 'warn', 0],
      ['runtime_error', '', 'Traceback', 1],
    ],
  );
  assert.equal(judged.status, 'runtime_error');
  assert.equal(judged.passed, 1);
});

test('a run stopped inside a test judges that test by how it stopped, even if it wrote nothing', () => {
  // Test 1 was handed its input (begun), then the worker's deadline stopped the sandbox.
  const silent = streamOf([stdoutFrame('0\n'), reportFrame({ test: 0 })], 2);
  const judged = judgeTests(job(['0', '1', '4']), rawOf(silent, { killedBy: 'deadline', exitCode: 137 }), 100);
  assert.deepEqual(
    judged.tests.map((t) => [t.verdict, t.status]),
    [
      ['accepted', 'ok'],
      ['timeout', 'timeout'],
      ['skipped', null],
    ],
  );
  assert.equal(judged.status, 'timeout', 'never ok with a test the run stopped in');
  assert.match(judged.tests[2]?.message ?? '', /the run stopped before this test/);
  // One that wrote something keeps it; the kernel's OOM kill of the sandbox is its memory limit.
  const partial = streamOf([stdoutFrame('0\n'), reportFrame({ test: 0 }), stdoutFrame('parti')], 2);
  const oom = judgeTests(job(['0', '1']), rawOf(partial, { oomKilled: true, exitCode: 137 }), 100);
  assert.deepEqual(
    oom.tests.map((t) => [t.verdict, t.stdout]),
    [
      ['accepted', '0\n'],
      ['memory_limit', 'parti'],
    ],
  );
});

test('stop_on_first_failure: the tests after the first failure are skipped, not judged', () => {
  const stream = streamOf([stdoutFrame('9\n'), reportFrame({ test: 0 })], 1);
  const judged = judgeTests(
    job(['0', '1', '4'], { stop_on_first_failure: true }),
    rawOf(stream, { completed: true }),
    100,
  );
  assert.deepEqual(
    judged.tests.map((t) => [t.verdict, t.message ?? null]),
    [
      ['wrong_answer', null],
      ['skipped', 'not judged: an earlier test failed'],
      ['skipped', 'not judged: an earlier test failed'],
    ],
  );
  assert.equal(judged.status, 'ok', 'a wrong answer is no run failure');
  assert.equal(judged.passed, 0);
});

test("the output cap is the job's: every test's bytes count together, the test that crosses it is output_limit", () => {
  const out = (n: number) => stdoutFrame(`${'x'.repeat(n - 1)}\n`);
  const frames = [
    out(40),
    reportFrame({ test: 0 }),
    out(40),
    reportFrame({ test: 1 }),
    out(20),
    reportFrame({ test: 2 }),
  ];
  const exactly = judgeTests(job(['x', 'x', 'x']), rawOf(streamOf(frames, 3), { completed: true }), 100);
  assert.deepEqual(
    exactly.tests.map((t) => t.status),
    ['ok', 'ok', 'ok'],
    '100 bytes in all is the cap, not past it',
  );
  const over = [
    out(40),
    reportFrame({ test: 0 }),
    out(40),
    reportFrame({ test: 1 }),
    out(21),
    reportFrame({ test: 2 }),
  ];
  const judged = judgeTests(job(['x', 'x', 'x']), rawOf(streamOf(over, 3), { completed: true }), 100);
  assert.deepEqual(
    judged.tests.map((t) => t.status),
    ['ok', 'ok', 'output_limit'],
  );
  assert.equal(judged.status, 'output_limit');
});
