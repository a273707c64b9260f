import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WIRE } from '@sbx/worker';
import { MAX_DROPPED_NAMES } from '../../apps/worker/src/sandbox/harness-report.js';
import {
  artifactFrame,
  attach,
  decode,
  decoder,
  doneFrame,
  frameHeader,
  reportBody,
  reportFrame,
  stderrFrame,
  stdoutFrame,
  wireFrame,
} from '../support/wire-frames.js';

/**
 * HarnessStream: the supervisor's stdout as frames (infra/sandbox/harness/wire.json), inside Docker's
 * attach multiplexing, its stderr as the harness's own log.
 */
const K = WIRE.kinds;
const CAPS = { maxCount: 10, maxBytes: 1 << 20 };

test('frames split at every byte boundary, across attach frames and inside them, decode the same', () => {
  const userErr = Buffer.from([0xff, 0xfe, 0x0a]);
  const wire = Buffer.concat([
    stdoutFrame('hello '),
    stderrFrame(userErr),
    stdoutFrame('world\n'),
    artifactFrame('a.txt', 'A\nB'),
    reportFrame({ exit_code: 3 }),
    doneFrame(3),
  ]);
  const check = (seen: ReturnType<typeof decoder>, where: string) => {
    const { stream } = seen;
    assert.equal(stream.fault, null, where);
    assert.equal(stream.output().stdout.toString(), 'hello world\n', where);
    assert.deepEqual(stream.output().stderr, userErr, where);
    assert.deepEqual(seen.reports, [[0, 'hello world\n', userErr.toString('latin1'), 3]], where);
    assert.deepEqual(seen.dones, [3], where);
    assert.equal(stream.exitCode, 3, where);
    assert.deepEqual(
      stream.artifacts().artifacts.map((a) => [a.name, a.data.toString()]),
      [['a.txt', 'A\nB']],
      where,
    );
    assert.equal(stream.harnessLog(), 'sbx harness: note\n', where);
    assert.equal(seen.overflows, 0, where);
  };
  for (let cut = 0; cut <= wire.length; cut++) {
    // Docker cuts the supervisor's stdout into attach frames anywhere, its stderr between them...
    const attached = Buffer.concat([
      attach(1, wire.subarray(0, cut)),
      attach(2, 'sbx harness: note\n'),
      attach(1, wire.subarray(cut)),
    ]);
    // ...and the attach stream reaches the worker in any slices: one byte at a time here.
    const seen = decoder({ artifacts: CAPS });
    for (let i = 0; i < attached.length; i++) seen.stream.push(attached.subarray(i, i + 1));
    check(seen, `frames cut at ${cut}, one byte per push`);
  }
  // One attach frame per wire byte, pushed in two slices cut anywhere.
  const perByte = Buffer.concat([...wire].map((b) => attach(1, Buffer.from([b]))));
  const between = 20 * attach(1, 'x').length; // after the 20th attach frame
  const all = Buffer.concat([
    perByte.subarray(0, between),
    attach(2, 'sbx harness: note\n'),
    perByte.subarray(between),
  ]);
  for (let cut = 0; cut <= all.length; cut += 7) {
    const seen = decoder({ artifacts: CAPS });
    seen.stream.push(all.subarray(0, cut));
    seen.stream.push(all.subarray(cut));
    check(seen, `attach stream cut at ${cut}`);
  }
});

test('a partial frame at the end is held, neither decoded nor a fault', () => {
  const whole = stdoutFrame('abcdef');
  const seen = decode([stdoutFrame('x'), whole.subarray(0, 7)]);
  assert.equal(seen.stream.output().stdout.toString(), 'x');
  assert.equal(seen.stream.fault, null);
  seen.stream.push(attach(1, whole.subarray(7)));
  assert.equal(seen.stream.output().stdout.toString(), 'xabcdef');
});

/** A run of `tests` tests, each writing `out` bytes on stdout and `err` on stderr, each with its report. */
function testsRun(tests: number, out: number, err: number, lastExtra = 0): Buffer[] {
  const frames: Buffer[] = [];
  for (let i = 0; i < tests; i++) {
    frames.push(stdoutFrame(Buffer.alloc(out, 0x30 + (i % 10))));
    frames.push(stderrFrame(Buffer.alloc(err + (i === tests - 1 ? lastExtra : 0), 0x61 + (i % 26))));
    frames.push(reportFrame({ test: i }));
  }
  frames.push(doneFrame(0));
  return frames;
}

test('the output cap counts the program bytes only: 50 tests totalling exactly the cap are not an overflow', () => {
  const cap = 50 * (60 + 40);
  const exact = decode(testsRun(50, 60, 40), { keepOutputBytes: cap });
  assert.equal(exact.overflows, 0);
  assert.equal(exact.stream.overflow, false);
  assert.equal(exact.stream.fault, null);
  // Every byte kept, every test delimited, reports and frame headers (far more than the cap) never counted.
  const out = exact.stream.output();
  assert.equal(out.stdout.length + out.stderr.length, cap);
  const slices = exact.stream.slices();
  assert.equal(slices.length, 50);
  assert.ok(slices.every((s) => s.stdout.length === 60 && s.stderr.length === 40 && s.report?.exit_code === 0));
  assert.deepEqual(exact.dones, [0]);
});

test('one program byte more than the cap is an overflow, signalled once; the cap is kept, in order', () => {
  const cap = 50 * (60 + 40);
  const over = decode([...testsRun(50, 60, 40, 1), stdoutFrame('more after it')], { keepOutputBytes: cap });
  assert.equal(over.overflows, 1);
  assert.equal(over.stream.overflow, true);
  const out = over.stream.output();
  assert.equal(out.stdout.length + out.stderr.length, cap);
  const slices = over.stream.slices();
  // The last test's stderr lost exactly its extra byte; its report still delimits it.
  assert.equal(slices[49]?.stderr.length, 40);
  assert.equal(slices[49]?.report?.exit_code, 0);
  assert.equal(slices.length, 50, 'nothing kept after the cap, not even an open slice');
});

test('the budget is shared by stdout and stderr, in arrival order', () => {
  const seen = decode([stdoutFrame('123456'), stderrFrame('abcdef'), stdoutFrame('zzzz')], { keepOutputBytes: 10 });
  const out = seen.stream.output();
  assert.equal(out.stdout.toString(), '123456');
  assert.equal(out.stderr.toString(), 'abcd');
  assert.equal(seen.overflows, 1);
  assert.equal(decode([stdoutFrame('123456')], { keepOutputBytes: 6 }).overflows, 0, 'exactly the budget');
});

test('artifacts never count against the output cap', () => {
  const big = Buffer.alloc(10_000, 7);
  const seen = decode([stdoutFrame('1234'), artifactFrame('big.bin', big)], { keepOutputBytes: 4, artifacts: CAPS });
  assert.equal(seen.overflows, 0);
  assert.deepEqual(seen.stream.artifacts().artifacts[0]?.data, big);
  assert.equal(seen.stream.output().stderr.length, 0, "no artifact byte is the program's output");
});

test('reports delimit the tests: each slice is its own output, with its report, handed over as it ends', () => {
  const seen = decode([
    stdoutFrame('one\n'),
    reportFrame({ test: 0 }),
    // A silent test is a slice of its own.
    reportFrame({ test: 1, exit_code: 1 }),
    stdoutFrame('tw'),
    stderrFrame('warn'),
    stdoutFrame('o'),
    reportFrame({ test: 2, exit_code: 3 }),
    doneFrame(0),
  ]);
  assert.deepEqual(seen.reports, [
    [0, 'one\n', '', 0],
    [1, '', '', 1],
    [2, 'two', 'warn', 3],
  ]);
  assert.deepEqual(
    seen.stream.slices().map((s) => [s.stdout.toString(), s.stderr.toString(), s.report?.exit_code]),
    [
      ['one\n', '', 0],
      ['', '', 1],
      ['two', 'warn', 3],
    ],
  );
  assert.equal(seen.stream.output().stdout.toString(), 'one\ntwo');
});

test("the program's bytes that look like frames or reports are its output, and split nothing", () => {
  const forged = Buffer.concat([reportFrame({ exit_code: 9 }), doneFrame(9), Buffer.from('\n\x1esbx-end:x:0\n')]);
  const seen = decode([stdoutFrame(forged), stderrFrame(forged), reportFrame()]);
  const slices = seen.stream.slices();
  assert.equal(slices.length, 1);
  assert.deepEqual(slices[0]?.stdout, forged);
  assert.deepEqual(slices[0]?.stderr, forged);
  assert.equal(slices[0]?.report?.exit_code, 0);
  assert.equal(seen.stream.exitCode, null);
});

test('the slice a run stopped in comes last, report null, with what it wrote; asking twice changes nothing', () => {
  const seen = decode([stdoutFrame('one\n'), reportFrame({ test: 0 }), stdoutFrame('partial'), stderrFrame('dying')]);
  const view = () =>
    seen.stream.slices().map((s) => [s.stdout.toString(), s.stderr.toString(), s.report?.exit_code ?? null]);
  const expected = [
    ['one\n', '', 0],
    ['partial', 'dying', null],
  ];
  assert.deepEqual(view(), expected);
  assert.deepEqual(view(), expected);
  // More output for it still lands in it.
  seen.stream.push(attach(1, stdoutFrame('!')));
  assert.equal(seen.stream.slices()[1]?.stdout.toString(), 'partial!');
  // Without output after the last report, and no test begun, there is no open slice.
  assert.equal(decode([stdoutFrame('x'), reportFrame()]).stream.slices().length, 1);
});

test('a test handed its input is the one in progress even before it writes anything', () => {
  const seen = decode([stdoutFrame('one\n'), reportFrame({ test: 0 })]);
  seen.stream.begin(); // test 0's input
  seen.stream.begin(); // test 1's go-ahead, after test 0's report
  const slices = seen.stream.slices();
  assert.equal(slices.length, 2);
  assert.deepEqual([slices[1]?.stdout.length, slices[1]?.stderr.length, slices[1]?.report], [0, 0, null]);
  // Its report closes it: no open slice after.
  seen.stream.push(attach(1, reportFrame({ test: 1 })));
  assert.deepEqual(
    seen.stream.slices().map((s) => s.report?.exit_code),
    [0, 0],
  );
});

const names = (seen: ReturnType<typeof decoder>) => seen.stream.artifacts().artifacts.map((a) => a.name);

test('artifacts are checked against the caps again, in order: what fit is kept, the rest dropped and named', () => {
  const frames = [
    artifactFrame('figure-1.png', Buffer.alloc(40, 1)),
    artifactFrame('figure-2.png', Buffer.alloc(40, 2)),
    artifactFrame('figure-3.png', Buffer.alloc(40, 3)),
    artifactFrame('tiny.txt', 'x'),
  ];
  const byCount = decode(frames, { artifacts: { maxCount: 2, maxBytes: 1000 } });
  assert.deepEqual(names(byCount), ['figure-1.png', 'figure-2.png']);
  assert.deepEqual(byCount.stream.artifacts().dropped, { count: 2, names: ['figure-3.png', 'tiny.txt'] });
  const byBytes = decode(frames, { artifacts: { maxCount: 10, maxBytes: 100 } });
  assert.deepEqual(names(byBytes), ['figure-1.png', 'figure-2.png']);
  // tiny.txt would fit, but comes after a drop: kept in order means a prefix.
  assert.deepEqual(byBytes.stream.artifacts().dropped, { count: 2, names: ['figure-3.png', 'tiny.txt'] });
  const exactly = decode(frames.slice(0, 2), { artifacts: { maxCount: 2, maxBytes: 80 } });
  assert.deepEqual(names(exactly), ['figure-1.png', 'figure-2.png'], 'exactly the caps fit');
  assert.equal(exactly.stream.artifacts().dropped.count, 0);
  // The count has no bound; the names do.
  const many = decode(
    Array.from({ length: MAX_DROPPED_NAMES + 5 }, (_, i) => artifactFrame(`f${i}.txt`, 'x')),
    { artifacts: { maxCount: 1, maxBytes: 100 } },
  );
  const dropped = many.stream.artifacts().dropped;
  assert.equal(dropped.count, MAX_DROPPED_NAMES + 4);
  assert.equal(dropped.names.length, MAX_DROPPED_NAMES);
  assert.equal(dropped.names[0], 'f1.txt');
  for (const seen of [byCount, byBytes, many]) assert.equal(seen.stream.fault, null);
});

test('artifacts keep their bytes exactly, whatever they hold', () => {
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 1, 2, 3, 255]);
  const seen = decode(
    [
      artifactFrame('figure-1.png', png, 'image/png'),
      artifactFrame('data/out.csv', 'a,b\n1,2\n', 'text/csv'),
      artifactFrame('empty.txt', ''),
      // 200 characters as the supervisor counts them (400 UTF-16 units): a name it may send.
      artifactFrame(`${'😀'.repeat(100)}/${'ü'.repeat(99)}`, 'astral'),
    ],
    { artifacts: CAPS },
  );
  assert.equal(seen.stream.fault, null);
  assert.deepEqual(
    seen.stream.artifacts().artifacts.map((a) => [a.name, a.mime, a.data.toString('hex')]),
    [
      ['figure-1.png', 'image/png', png.toString('hex')],
      ['data/out.csv', 'text/csv', Buffer.from('a,b\n1,2\n').toString('hex')],
      ['empty.txt', 'text/plain', ''],
      [`${'😀'.repeat(100)}/${'ü'.repeat(99)}`, 'text/plain', Buffer.from('astral').toString('hex')],
    ],
  );
});

test('a duplicate name is dropped and named, the first of that name kept', () => {
  const seen = decode([artifactFrame('a.txt', '1'), artifactFrame('a.txt', '2'), artifactFrame('b.txt', '3')], {
    artifacts: CAPS,
  });
  assert.deepEqual(
    seen.stream.artifacts().artifacts.map((a) => [a.name, a.data.toString()]),
    [['a.txt', '1']],
  );
  // As after any drop, nothing later is kept: what is kept is a prefix.
  assert.deepEqual(seen.stream.artifacts().dropped, { count: 2, names: ['a.txt', 'b.txt'] });
  assert.equal(seen.stream.fault, null);
});

test('an unknown or missing mime becomes application/octet-stream', () => {
  const seen = decode(
    [
      artifactFrame('a.bin', 'A', 'text/html; evil'),
      artifactFrame('b.bin', 'B', null),
      artifactFrame('c.bin', 'C', `${'x'.repeat(61)}/y`),
      artifactFrame('d.svg', 'D', 'image/svg+xml'),
    ],
    { artifacts: CAPS },
  );
  assert.deepEqual(
    seen.stream.artifacts().artifacts.map((a) => a.mime),
    ['application/octet-stream', 'application/octet-stream', 'application/octet-stream', 'image/svg+xml'],
  );
});

test('an artifact frame with a bad name or a header that does not match its bytes is a protocol fault', () => {
  const bad: [string, Buffer][] = [
    ['a path out of the folder', artifactFrame('../x', 'x')],
    ['an absolute path', artifactFrame('/etc/passwd', 'x')],
    ['a control character', artifactFrame('a\nb', 'x')],
    ['a name too long', artifactFrame('x'.repeat(201), 'x')],
    ['no name', artifactFrame('', 'x')],
    ['a size that lies', artifactFrame('a.txt', 'abc', 'text/plain', { bytes: 2 })],
    ['no header line', wireFrame(K.artifact, 'just bytes')],
    ['a header that is not JSON', wireFrame(K.artifact, '{name: a}\nx')],
    ['a header that is not an object', wireFrame(K.artifact, 'null\n')],
  ];
  for (const [what, frame] of bad) {
    const seen = decode([artifactFrame('ok.txt', 'fine'), frame, stdoutFrame('after')], { artifacts: CAPS });
    assert.match(seen.stream.fault ?? '', /artifact/, what);
    assert.deepEqual(names(seen), ['ok.txt'], what);
    assert.equal(seen.stream.output().stdout.length, 0, `${what}: nothing is read after a fault`);
  }
});

test('an artifact frame when none were asked for is a fault, from its header alone', () => {
  const seen = decode([frameHeader(K.artifact, 10)]);
  assert.match(seen.stream.fault ?? '', /kind 4/);
});

test('a frame larger than its kind allows is a fault from its header alone, before its payload', () => {
  const artifactBound = WIRE.artifactHeaderMaxBytes + CAPS.maxBytes;
  const bounds: [string, number, number][] = [
    ['stdout', K.stdout, WIRE.maxChunkBytes],
    ['stderr', K.stderr, WIRE.maxChunkBytes],
    ['report', K.report, WIRE.maxReportBytes],
    ['artifact', K.artifact, artifactBound],
    ['done', K.done, 64],
  ];
  for (const [what, kind, bound] of bounds) {
    const over = decode([frameHeader(kind, bound + 1)], { artifacts: CAPS });
    assert.match(over.stream.fault ?? '', new RegExp(`kind ${kind} is ${bound + 1} bytes`), what);
    // Nothing after it is read, however valid.
    over.stream.push(attach(1, stdoutFrame('late')));
    assert.equal(over.stream.output().stdout.length, 0, what);
    const huge = decode([frameHeader(kind, 0xffffffff)], { artifacts: CAPS });
    assert.notEqual(huge.stream.fault, null, `${what}: 4 GiB`);
    // At the bound exactly: no fault, the stream waits for the payload.
    const at = decode([frameHeader(kind, bound)], { artifacts: CAPS });
    assert.equal(at.stream.fault, null, `${what} at its bound`);
  }
  // A whole chunk of the largest size decodes.
  const full = decode([stdoutFrame(Buffer.alloc(WIRE.maxChunkBytes, 0x41))]);
  assert.equal(full.stream.output().stdout.length, WIRE.maxChunkBytes);
  assert.equal(full.stream.fault, null);
});

test('an unknown frame kind is a fault, from its header alone', () => {
  for (const kind of [0, 6, 0x1e, 255]) {
    const seen = decode([stdoutFrame('before'), frameHeader(kind, 1), stdoutFrame('after')]);
    assert.equal(seen.stream.fault, `unknown frame kind ${kind}`);
    assert.equal(seen.stream.output().stdout.toString(), 'before');
  }
});

test('a report or done frame that is not one is a fault', () => {
  const { time: _time, ...noTime } = reportBody();
  const reports: [string, string][] = [
    ['not JSON', '{"v":'],
    ['an array', '[]'],
    ['null', 'null'],
    ['another version', JSON.stringify(reportBody({ v: WIRE.version + 1 }))],
    ['a field of the wrong type', JSON.stringify(reportBody({ time: 'fast' }))],
    ['a field missing', JSON.stringify(noTime)],
  ];
  for (const [what, body] of reports) {
    const seen = decode([stdoutFrame('x'), wireFrame(K.report, body), reportFrame()]);
    assert.equal(seen.stream.fault, 'a report frame that is not a report', what);
    assert.deepEqual(seen.reports, [], what);
    // The slice stays open: nothing was reported.
    assert.equal(seen.stream.slices()[0]?.report, null, what);
  }
  for (const body of ['', 'not json', 'null', '{}', '{"exit_code":"0"}', '{"exit_code":1.5}', '[0]']) {
    const seen = decode([wireFrame(K.done, body), doneFrame(0)]);
    assert.equal(seen.stream.fault, 'a done frame without an exit code', body);
    assert.deepEqual(seen.dones, [], body);
    assert.equal(seen.stream.exitCode, null, body);
  }
});

test("the supervisor's stderr is its log: bounded, its last bytes, never the program's output", () => {
  const seen = decoder();
  seen.stream.push(attach(2, 'sbx harness: first line\n'));
  seen.stream.push(attach(1, stderrFrame('program stderr')));
  for (let i = 0; i < 100; i++) seen.stream.push(attach(2, `${String(i).padStart(3, '0')} ${'-'.repeat(96)}\n`));
  seen.stream.push(attach(2, 'sbx harness: bad job frame\n'));
  const log = seen.stream.harnessLog();
  assert.equal(log.length, 4096);
  assert.ok(log.endsWith('-\nsbx harness: bad job frame\n'));
  assert.ok(!log.includes('first line'));
  assert.ok(!log.includes('program stderr'));
  assert.equal(seen.stream.output().stderr.toString(), 'program stderr');
  // The log is read even after a fault on stdout.
  const faulted = decoder();
  faulted.stream.push(attach(1, frameHeader(9, 0)));
  faulted.stream.push(attach(2, 'why'));
  assert.equal(faulted.stream.harnessLog(), 'why');
});
