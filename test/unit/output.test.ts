import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeJobLine, encodeTestInput, fitOutput, parseReport, WIRE } from '@sbx/worker';
import { decode, reportBody, reportFrame, stderrFrame, stdoutFrame } from '../support/wire-frames.js';

// The demultiplexing and the output cap (the old OutputCollector's) are HarnessStream's now:
// test/unit/harness-stream.test.ts.

const report = (extra: Record<string, unknown>) => parseReport(Buffer.from(JSON.stringify(reportBody(extra))));

test("the program's stderr comes out byte for byte, the report apart from it", () => {
  const user = Buffer.concat([Buffer.from('warning: no newline'), Buffer.from([0xff, 0xfe])]);
  const seen = decode([stderrFrame(user), stdoutFrame('out'), reportFrame({ time: 0.5 })]);
  assert.deepEqual(seen.stream.output().stderr, user);
  assert.equal(seen.stream.output().stdout.toString(), 'out');
  const [slice] = seen.stream.slices();
  assert.deepEqual(slice?.stderr, user);
  assert.equal(slice?.report?.time, 0.5);
});

test('a report says whether the CPU backstop fired; absent means the wall clock or no limit at all', () => {
  const { cpu_limit: _, ...withoutCpu } = reportBody();
  assert.equal(parseReport(Buffer.from(JSON.stringify(withoutCpu)))?.cpu_limit, false);
  assert.equal(report({ timed_out: true, cpu_limit: true })?.cpu_limit, true);
  assert.equal(report({ cpu_limit: 'yes' }), null);
});

test('a malformed report is none; a violation comes through as it was', () => {
  assert.equal(report({ time: 'fast' }), null);
  assert.equal(report({ exit_code: null }), null);
  assert.equal(report({ signal: '9' }), null);
  assert.equal(report({ timed_out: 0 }), null);
  assert.equal(report({ v: 1 }), null, 'the old protocol');
  assert.equal(report({ violation: { message: 3, line: null } }), null);
  assert.equal(report({ violation: 'no' }), null);
  assert.equal(parseReport(Buffer.from('{not json')), null);
  assert.equal(parseReport(Buffer.from('[1]')), null);
  const { violation: _, ...noViolationField } = reportBody();
  assert.equal(parseReport(Buffer.from(JSON.stringify(noViolationField))), null);
  const violation = { message: 'no', line: 2 };
  assert.deepEqual(report({ violation })?.violation, violation);
  assert.deepEqual(report({ violation: { message: 'killed', line: null } })?.violation, {
    message: 'killed',
    line: null,
  });
});

test("the report's peak memory is the program's own: what its process held before it started is not charged", () => {
  assert.equal(report({ max_rss_kb: 150_000, base_rss_kb: 130_000 })?.max_rss_kb, 20_000);
  assert.equal(report({ max_rss_kb: 1000, base_rss_kb: 5000 })?.max_rss_kb, 0, 'never negative');
  const { base_rss_kb: _, ...noBase } = reportBody({ max_rss_kb: 1000 });
  assert.equal(parseReport(Buffer.from(JSON.stringify(noBase)))?.max_rss_kb, 1000, 'a report without it: all of it');
});

test('the job line is one JSON line of the current version whatever the code contains', () => {
  const line = encodeJobLine({
    code: 'print("a\\nb")\n\u2028',
    stdin: '\n\n',
    time_ms: 1,
    memory_mb: 2,
    policy: 'strict',
  });
  assert.equal(line.indexOf('\n'), line.length - 1);
  assert.deepEqual(JSON.parse(line), {
    v: WIRE.version,
    code: 'print("a\\nb")\n\u2028',
    stdin: '\n\n',
    time_ms: 1,
    memory_mb: 2,
    policy: 'strict',
  });
});

test("a test's input is one JSON line, args only when given; stop is its own line", () => {
  const line = encodeTestInput({ stdin: 'a\nb\n\u2029' });
  assert.equal(line.indexOf('\n'), line.length - 1);
  assert.deepEqual(JSON.parse(line), { stdin: 'a\nb\n\u2029' });
  assert.deepEqual(JSON.parse(encodeTestInput({ stdin: '', args: ['-x', 'y\nz'] })), {
    stdin: '',
    args: ['-x', 'y\nz'],
  });
  assert.equal(WIRE.stopLine, 'stop\n');
  assert.notEqual(encodeTestInput({ stdin: 'stop' }), WIRE.stopLine, 'an input of "stop" is not the stop line');
});

test('fitOutput keeps stdout first and flags what it cut', () => {
  const fit = fitOutput(Buffer.from('abcdef'), Buffer.from('XYZ'), 8);
  assert.deepEqual(fit, { stdout: 'abcdef', stderr: 'XY', stdoutTruncated: false, stderrTruncated: true });
  const all = fitOutput(Buffer.from('abc'), Buffer.from(''), 2);
  assert.deepEqual(all, { stdout: 'ab', stderr: '', stdoutTruncated: true, stderrTruncated: false });
});
