import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeJobFrame, extractReport, fitOutput, OutputCollector } from '@sbx/worker';

const frame = (kind: number, text: string | Buffer) => {
  const payload = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = kind;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
};

test('the collector demultiplexes frames split at any byte', () => {
  const stream = Buffer.concat([frame(1, 'hello '), frame(2, 'oops\n'), frame(1, 'world\n')]);
  for (let cut = 0; cut <= stream.length; cut++) {
    const c = new OutputCollector(1000, () => assert.fail('no overflow'));
    c.push(stream.subarray(0, cut));
    c.push(stream.subarray(cut));
    const out = c.result();
    assert.equal(out.stdout.toString(), 'hello world\n');
    assert.equal(out.stderr.toString(), 'oops\n');
    assert.equal(out.overflow, false);
  }
});

test('the collector keeps at most its budget, in arrival order, and signals overflow once', () => {
  let overflows = 0;
  const c = new OutputCollector(10, () => overflows++);
  c.push(frame(1, '123456'));
  c.push(frame(2, 'abcdef'));
  c.push(frame(1, 'zzzz'));
  const out = c.result();
  assert.equal(out.stdout.toString(), '123456');
  assert.equal(out.stderr.toString(), 'abcd');
  assert.equal(out.overflow, true);
  assert.equal(overflows, 1);
});

test('exactly the budget is not an overflow', () => {
  const c = new OutputCollector(6, () => assert.fail('no overflow'));
  c.push(frame(1, '123456'));
  assert.equal(c.result().overflow, false);
});

const reportLine = (nonce: string, body: object) => `\n\x1esbx-report:${nonce}:${JSON.stringify(body)}\n`;
const good = {
  v: 1,
  timed_out: false,
  exit_code: 0,
  signal: null,
  time: 0.5,
  cpu_time: 0.4,
  max_rss_kb: 9000,
  memory_error: false,
  ended_itself: true,
  violation: null,
};

test('the report is found at the end of stderr and stripped, leaving user stderr byte for byte', () => {
  const { stderr, report } = extractReport(Buffer.from(`warning: no newline${reportLine('n1', good)}`), 'n1');
  assert.equal(stderr.toString(), 'warning: no newline');
  assert.equal(report?.time, 0.5);
  assert.equal(report?.cpu_limit, false, 'absent means the wall clock or no limit at all');
  const viaCpu = extractReport(Buffer.from(reportLine('n1', { ...good, timed_out: true, cpu_limit: true })), 'n1');
  assert.equal(viaCpu.report?.cpu_limit, true);
  assert.equal(extractReport(Buffer.from(reportLine('n1', { ...good, cpu_limit: 'yes' })), 'n1').report, null);
});

test('a report with another nonce, not at the end, or malformed is ignored', () => {
  const forged = Buffer.from(`x${reportLine('guess', good)}`);
  assert.equal(extractReport(forged, 'n1').report, null);
  assert.equal(extractReport(forged, 'n1').stderr, forged);
  const notLast = Buffer.from(`${reportLine('n1', good)}more`);
  assert.equal(extractReport(notLast, 'n1').report, null);
  const bad = Buffer.from(reportLine('n1', { ...good, time: 'fast' }));
  assert.equal(extractReport(bad, 'n1').report, null);
  assert.equal(extractReport(Buffer.from('\n\x1esbx-report:n1:{not json\n'), 'n1').report, null);
  const noViolationField = { ...good } as Partial<typeof good>;
  delete noViolationField.violation;
  assert.equal(extractReport(Buffer.from(reportLine('n1', noViolationField)), 'n1').report, null);
  const violation = { message: 'no', line: 2 };
  assert.deepEqual(
    extractReport(Buffer.from(reportLine('n1', { ...good, violation })), 'n1').report?.violation,
    violation,
  );
});

test('the job frame is one JSON line whatever the code contains', () => {
  const line = encodeJobFrame({
    nonce: 'n',
    code: 'print("a\\nb")\n\u2028',
    stdin: '\n\n',
    time_ms: 1,
    memory_mb: 2,
    policy: 'strict',
  });
  assert.equal(line.indexOf('\n'), line.length - 1);
  assert.deepEqual(JSON.parse(line), {
    v: 1,
    nonce: 'n',
    code: 'print("a\\nb")\n\u2028',
    stdin: '\n\n',
    time_ms: 1,
    memory_mb: 2,
    policy: 'strict',
  });
});

test('fitOutput keeps stdout first and flags what it cut', () => {
  const fit = fitOutput(Buffer.from('abcdef'), Buffer.from('XYZ'), 8);
  assert.deepEqual(fit, { stdout: 'abcdef', stderr: 'XY', stdoutTruncated: false, stderrTruncated: true });
  const all = fitOutput(Buffer.from('abc'), Buffer.from(''), 2);
  assert.deepEqual(all, { stdout: 'ab', stderr: '', stdoutTruncated: true, stderrTruncated: false });
});
