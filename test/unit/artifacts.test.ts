import assert from 'node:assert/strict';
import { test } from 'node:test';
import { artifactAllowance, takeArtifacts } from '../../apps/worker/src/sandbox/docker-runner.js';
import {
  artifactsMarker,
  encodeJobFrame,
  extractArtifacts,
  extractReport,
  isArtifactName,
} from '../../apps/worker/src/sandbox/harness-report.js';
import { OutputCollector } from '../../apps/worker/src/sandbox/output-collector.js';

/**
 * The artifact frames on the worker's side (supervisor.py, write_artifacts): the user's stderr, then
 * `\n\x1esbx-artifacts:<nonce>:<total>\n`, then per artifact `\x1esbx-artifact:<nonce>:<json>\n<base64>\n`,
 * then the report line.
 */
const NONCE = '0123456789abcdef0123456789abcdef';
const CAPS = { maxCount: 10, maxBytes: 1 << 20 };

const reportLine = (extra: Record<string, unknown> = {}, nonce = NONCE) =>
  `\n\x1esbx-report:${nonce}:${JSON.stringify({
    v: 1,
    timed_out: false,
    cpu_limit: false,
    exit_code: 0,
    signal: null,
    time: 0.01,
    cpu_time: 0.01,
    max_rss_kb: 9000,
    memory_error: false,
    ended_itself: true,
    violation: null,
    ...extra,
  })}\n`;

const artifactFrame = (name: string, data: Buffer, nonce = NONCE, mime = 'text/plain') =>
  `\x1esbx-artifact:${nonce}:${JSON.stringify({ name, mime, bytes: data.length })}\n${data.toString('base64')}\n`;

function section(items: [string, Buffer][], nonce = NONCE): string {
  const total = items.reduce((sum, [, d]) => sum + d.toString('base64').length, 0);
  return `\n\x1esbx-artifacts:${nonce}:${total}\n${items.map(([n, d]) => artifactFrame(n, d, nonce)).join('')}`;
}

const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 1, 2, 3, 255]);

test('artifacts come out of stderr; the user stderr and the report stay byte for byte', () => {
  // User stderr that does not end with a newline and holds bytes that are not UTF-8.
  const user = Buffer.concat([Buffer.from('Traceback...\nValueError: x'), Buffer.from([0xff, 0xfe])]);
  const report = reportLine({ artifacts_dropped: 0, dropped_names: [] });
  const stderr = Buffer.concat([
    user,
    Buffer.from(
      section([
        ['figure-1.png', png],
        ['data/out.csv', Buffer.from('a,b\n1,2\n')],
        ['empty.txt', Buffer.alloc(0)],
      ]),
    ),
    Buffer.from(report),
  ]);
  const found = extractArtifacts(stderr, NONCE, CAPS);
  assert.deepEqual(
    found.artifacts.map((a) => [a.name, a.mime, a.data.toString('hex')]),
    [
      ['figure-1.png', 'text/plain', png.toString('hex')],
      ['data/out.csv', 'text/plain', Buffer.from('a,b\n1,2\n').toString('hex')],
      ['empty.txt', 'text/plain', ''],
    ],
  );
  assert.deepEqual(found.dropped, { count: 0, names: [] });
  assert.deepEqual(found.stderr, Buffer.concat([user, Buffer.from(report)]));
  const { stderr: own, report: parsed } = extractReport(found.stderr, NONCE);
  assert.deepEqual(own, user);
  assert.equal(parsed?.artifacts_dropped, 0);
});

test('no start marker: stderr is returned as it is, and so are frames of another nonce', () => {
  const other = 'ffffffffffffffffffffffffffffffff';
  const plain = Buffer.from(`oops\n${reportLine()}`);
  assert.equal(extractArtifacts(plain, NONCE, CAPS).stderr, plain);
  assert.equal(extractArtifacts(plain, NONCE, CAPS).artifacts.length, 0);
  // The user printed frames under a nonce it guessed: they are its stderr.
  const forged = Buffer.from(`${section([['figure-1.png', png]], other)}${reportLine()}`);
  const found = extractArtifacts(forged, NONCE, CAPS);
  assert.equal(found.artifacts.length, 0);
  assert.deepEqual(found.stderr, forged);
  // A frame of ours without the start marker before it is user output too.
  const loose = Buffer.from(`${artifactFrame('figure-1.png', png)}${reportLine()}`);
  assert.deepEqual(extractArtifacts(loose, NONCE, CAPS).stderr, loose);
});

test('forged frames of another nonce inside the section are not artifacts', () => {
  const stderr = Buffer.from(
    `${section([['a.txt', Buffer.from('A')]])}${artifactFrame('b.txt', Buffer.from('B'), 'f'.repeat(32))}${reportLine()}`,
  );
  const found = extractArtifacts(stderr, NONCE, CAPS);
  assert.deepEqual(
    found.artifacts.map((a) => a.name),
    ['a.txt'],
  );
  assert.deepEqual(found.stderr, Buffer.from(reportLine()));
});

test('a section cut short (no report: the run was stopped) keeps the whole frames and counts the cut one', () => {
  const whole = section([
    ['figure-1.png', png],
    ['figure-2.png', Buffer.alloc(300, 7)],
  ]);
  const cut = Buffer.from(`user\n${whole.slice(0, whole.length - 40)}`);
  const found = extractArtifacts(cut, NONCE, CAPS);
  assert.deepEqual(
    found.artifacts.map((a) => a.name),
    ['figure-1.png'],
  );
  assert.deepEqual(found.dropped, { count: 1, names: ['figure-2.png'] });
  assert.equal(found.stderr.toString(), 'user\n');
  // Cut inside a header: nothing of it is an artifact, nor counted.
  const inHeader = Buffer.from(`user\n${whole.slice(0, whole.indexOf('figure-2') + 3)}`);
  const partial = extractArtifacts(inHeader, NONCE, CAPS);
  assert.equal(partial.artifacts.length, 1);
  assert.equal(partial.dropped.count, 0);
  assert.equal(partial.stderr.toString(), 'user\n');
});

test('frames whose base64 does not match their size are rejected', () => {
  const good = artifactFrame('ok.txt', Buffer.from('fine'));
  const lying = `\x1esbx-artifact:${NONCE}:${JSON.stringify({ name: 'big.bin', mime: 'a/b', bytes: 5 })}\n${Buffer.from('123456').toString('base64')}\n`;
  const junk = `\x1esbx-artifact:${NONCE}:${JSON.stringify({ name: 'junk.bin', mime: 'a/b', bytes: 3 })}\n!!!!\n`;
  const stderr = Buffer.from(`\n\x1esbx-artifacts:${NONCE}:20\n${lying}${junk}${good}${reportLine()}`);
  const found = extractArtifacts(stderr, NONCE, CAPS);
  // The bad frames are dropped (counted); past the first drop everything else is too.
  assert.deepEqual(
    found.artifacts.map((a) => a.name),
    [],
  );
  assert.deepEqual(found.dropped, { count: 3, names: ['big.bin', 'junk.bin', 'ok.txt'] });
});

test('the worker checks the caps again, in order: what fit is kept, the rest dropped and named', () => {
  const items: [string, Buffer][] = [
    ['figure-1.png', Buffer.alloc(40, 1)],
    ['figure-2.png', Buffer.alloc(40, 2)],
    ['figure-3.png', Buffer.alloc(40, 3)],
    ['tiny.txt', Buffer.from('x')],
  ];
  const stderr = Buffer.from(`${section(items)}${reportLine()}`);
  const byCount = extractArtifacts(stderr, NONCE, { maxCount: 2, maxBytes: 1000 });
  assert.deepEqual(
    byCount.artifacts.map((a) => a.name),
    ['figure-1.png', 'figure-2.png'],
  );
  assert.deepEqual(byCount.dropped, { count: 2, names: ['figure-3.png', 'tiny.txt'] });
  const byBytes = extractArtifacts(stderr, NONCE, { maxCount: 10, maxBytes: 100 });
  assert.deepEqual(
    byBytes.artifacts.map((a) => a.name),
    ['figure-1.png', 'figure-2.png'],
  );
  // tiny.txt would fit, but comes after a drop: kept in order means a prefix.
  assert.deepEqual(byBytes.dropped.names, ['figure-3.png', 'tiny.txt']);
});

test('names: relative, no .., printable, at most 200 characters, no duplicates', () => {
  for (const ok of ['figure-1.png', 'data/out.csv', 'a b/ü.txt', 'x'.repeat(200), '.hidden'])
    assert.ok(isArtifactName(ok), ok);
  for (const bad of [
    '',
    '/etc/passwd',
    '../x',
    'a/../b',
    'a//b',
    'a/',
    './a',
    'a\\b',
    'a\nb',
    'a\u001eb',
    'x'.repeat(201),
    '\ud800',
  ])
    assert.ok(!isArtifactName(bad), JSON.stringify(bad));
  const stderr = Buffer.from(
    `${section([
      ['../escape.txt', Buffer.from('1')],
      ['a.txt', Buffer.from('2')],
      ['a.txt', Buffer.from('3')],
    ])}${reportLine()}`,
  );
  const found = extractArtifacts(stderr, NONCE, CAPS);
  // A bad or repeated name drops only itself.
  assert.deepEqual(
    found.artifacts.map((a) => [a.name, a.data.toString()]),
    [['a.txt', '2']],
  );
  assert.deepEqual(found.dropped, { count: 2, names: ['../escape.txt', 'a.txt'] });
});

test('an unknown mime becomes application/octet-stream', () => {
  const frame = `\x1esbx-artifact:${NONCE}:${JSON.stringify({ name: 'x.bin', mime: 'text/html; evil', bytes: 1 })}\nQQ==\n`;
  const found = extractArtifacts(Buffer.from(`\n\x1esbx-artifacts:${NONCE}:4\n${frame}${reportLine()}`), NONCE, CAPS);
  assert.equal(found.artifacts[0]?.mime, 'application/octet-stream');
});

test("the report's dropped artifacts add to the worker's own", () => {
  const stderr = Buffer.from(
    `${section([['figure-1.png', png]])}${reportLine({ artifacts_dropped: 3, dropped_names: ['figure-2.png', 'big.csv'] })}`,
  );
  const found = takeArtifacts(stderr, NONCE, { maxCount: 5, maxBytes: 5 });
  assert.equal(found.artifacts.length, 0); // 13 bytes > 5
  assert.deepEqual(found.dropped, { count: 4, names: ['figure-2.png', 'big.csv', 'figure-1.png'] });
  // Without caps (no artifacts asked for), nothing is taken out of stderr.
  assert.equal(takeArtifacts(stderr, NONCE, undefined).stderr, stderr);
  // A report with malformed artifact fields still counts as a report, without them.
  const odd = extractReport(Buffer.from(reportLine({ artifacts_dropped: -1, dropped_names: 'x' })), NONCE).report;
  assert.equal(odd?.exit_code, 0);
  assert.equal(odd?.artifacts_dropped, undefined);
});

test('the job frame carries the artifact caps', () => {
  const line = encodeJobFrame({
    nonce: NONCE,
    code: 'print(1)',
    stdin: '',
    time_ms: 1000,
    memory_mb: 64,
    policy: 'standard',
    artifacts: { format: 'svg', max_count: 3, max_bytes: 1000 },
  });
  assert.deepEqual(JSON.parse(line).artifacts, { format: 'svg', max_count: 3, max_bytes: 1000 });
});

const dockerFrame = (kind: number, text: string | Buffer) => {
  const payload = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = kind;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
};

test("allow() raises the collector's cap once", () => {
  let overflows = 0;
  const c = new OutputCollector(4, () => overflows++);
  c.push(dockerFrame(1, '1234'));
  c.allow(6);
  c.allow(1000); // once only
  c.push(dockerFrame(2, 'abcdef'));
  assert.equal(overflows, 0);
  c.push(dockerFrame(2, 'z'));
  assert.equal(overflows, 1);
  assert.equal(c.result().stderr.toString(), 'abcdef');
});

/** A collector watching for our marker, as DockerSandbox.run sets it up. */
function watching(keep: number, caps = CAPS) {
  const seen: number[] = [];
  const overflows: number[] = [];
  const c = new OutputCollector(keep, () => overflows.push(1));
  c.watchStderr(Buffer.from(artifactsMarker(NONCE)), (declared) => {
    seen.push(declared);
    c.allow(artifactAllowance(declared, caps));
  });
  return { c, seen, overflows };
}

test('artifacts after the start marker never count against the output cap, however the stream is cut', () => {
  const user = 'u'.repeat(90);
  const body = `${section([['figure-1.png', Buffer.alloc(5000, 9)]])}${reportLine()}`;
  const stream = Buffer.concat([dockerFrame(1, 'out\n'), dockerFrame(2, user), dockerFrame(2, body)]);
  for (const cut of [0, 10, 100, 120, 140, stream.length - 5]) {
    const { c, seen, overflows } = watching(200);
    // Docker may cut the stream anywhere, and put the marker and the frames in one payload or several.
    c.push(stream.subarray(0, cut));
    c.push(stream.subarray(cut));
    assert.deepEqual(overflows, [], `cut ${cut}`);
    assert.deepEqual(seen, [Math.ceil(5000 / 3) * 4]);
    const found = takeArtifacts(c.result().stderr, NONCE, CAPS);
    assert.equal(found.artifacts[0]?.data.length, 5000);
    assert.equal(extractReport(found.stderr, NONCE).stderr.toString(), user);
  }
  // Split into one payload per byte around the marker: still seen once, with its value.
  const { c, seen, overflows } = watching(200);
  c.push(dockerFrame(2, user));
  for (const ch of body.slice(0, 80)) c.push(dockerFrame(2, ch));
  c.push(dockerFrame(2, body.slice(80)));
  assert.deepEqual(seen, [Math.ceil(5000 / 3) * 4]);
  assert.deepEqual(overflows, []);
});

test('user output before the marker keeps the usual cap, even in the payload that carries the marker', () => {
  const { c, overflows } = watching(50);
  c.push(dockerFrame(2, `${'x'.repeat(60)}${section([['a.txt', Buffer.from('A')]])}${reportLine()}`));
  assert.equal(overflows.length, 1);
  assert.equal(c.result().stderr.subarray(0, 50).toString(), 'x'.repeat(50));
});

test('the allowance is bounded by the caps, whatever the marker declares', () => {
  const caps = { maxCount: 2, maxBytes: 3000 };
  // Never more than the caps' base64 (two artifacts of 3,000 bytes together: at most 4,008) plus the frames' slack.
  assert.equal(artifactAllowance(10 ** 12, caps), artifactAllowance(4008, caps));
  assert.ok(artifactAllowance(4008, caps) < 4008 + 40 * 1024);
  assert.equal(artifactAllowance(0, caps), artifactAllowance(0, { maxCount: 2, maxBytes: 10 ** 9 }));
  const { c, seen, overflows } = watching(100, caps);
  c.push(dockerFrame(2, `\n\x1esbx-artifacts:${NONCE}:99999999999\n`));
  c.push(dockerFrame(2, 'y'.repeat(artifactAllowance(10 ** 12, caps) + 100)));
  assert.deepEqual(seen, [99999999999]);
  assert.equal(overflows.length, 1);
});

test('a marker without digits ends the watch: nothing is allowed', () => {
  const { c, seen, overflows } = watching(60);
  c.push(dockerFrame(2, `\n\x1esbx-artifacts:${NONCE}:abc\n`));
  c.push(dockerFrame(2, `\n\x1esbx-artifacts:${NONCE}:10\n`));
  c.push(dockerFrame(2, 'z'.repeat(100)));
  assert.deepEqual(seen, []);
  assert.equal(overflows.length, 1);
});

test("the report's peak memory is the program's own: what its process held before it started is not charged", () => {
  const at = (extra: Record<string, unknown>) =>
    extractReport(Buffer.from(reportLine(extra)), NONCE).report?.max_rss_kb;
  assert.equal(at({ max_rss_kb: 150_000, base_rss_kb: 130_000 }), 20_000);
  assert.equal(at({ max_rss_kb: 1000, base_rss_kb: 5000 }), 0, 'never negative');
  assert.equal(at({ max_rss_kb: 1000 }), 1000, 'a report without it: all of it');
});
