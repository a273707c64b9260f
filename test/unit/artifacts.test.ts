import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeJobLine, isArtifactName, parseReport } from '@sbx/worker';
import { MAX_DROPPED_NAMES, shownName } from '../../apps/worker/src/sandbox/harness-report.js';
import {
  artifactFrame,
  attach,
  decode,
  decoder,
  reportBody,
  reportFrame,
  stderrFrame,
  stdoutFrame,
} from '../support/wire-frames.js';

/**
 * Artifacts on the worker's side: frames of their own (sbx_artifacts.send_artifacts: a JSON header
 * line {name, mime, bytes}, then the raw bytes) after the program's output and before the report.
 * The caps, names, duplicates and mime of the frames themselves: test/unit/harness-stream.test.ts.
 */
const CAPS = { maxCount: 10, maxBytes: 1 << 20 };
const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 1, 2, 3, 255]);

test("artifacts come in frames of their own: the program's stderr and the report stay byte for byte", () => {
  // Stderr that does not end with a newline and holds bytes that are not UTF-8.
  const user = Buffer.concat([Buffer.from('Traceback...\nValueError: x'), Buffer.from([0xff, 0xfe])]);
  const seen = decode(
    [
      stderrFrame(user),
      artifactFrame('figure-1.png', png, 'image/png'),
      artifactFrame('data/out.csv', 'a,b\n1,2\n', 'text/csv'),
      reportFrame({ artifacts_dropped: 0, dropped_names: [], artifacts_skipped: 0, skipped_names: [] }),
    ],
    { artifacts: CAPS },
  );
  assert.deepEqual(
    seen.stream.artifacts().artifacts.map((a) => a.name),
    ['figure-1.png', 'data/out.csv'],
  );
  assert.deepEqual(seen.stream.output().stderr, user);
  assert.deepEqual(seen.stream.artifacts().dropped, { count: 0, names: [] });
  const [slice] = seen.stream.slices();
  assert.equal(slice?.report?.artifacts_dropped, 0);
  assert.deepEqual(slice?.stderr, user);
});

test('the artifacts never count against the output cap, however the stream is cut', () => {
  const user = 'u'.repeat(90);
  const wire = Buffer.concat([
    stdoutFrame('out\n'),
    stderrFrame(user),
    artifactFrame('figure-1.png', Buffer.alloc(5000, 9), 'image/png'),
    reportFrame(),
  ]);
  for (const cut of [0, 10, 100, 120, 140, 1000, wire.length - 5]) {
    const seen = decoder({ keepOutputBytes: 200, artifacts: CAPS });
    seen.stream.push(attach(1, wire.subarray(0, cut)));
    seen.stream.push(attach(1, wire.subarray(cut)));
    assert.equal(seen.overflows, 0, `cut ${cut}`);
    assert.equal(seen.stream.artifacts().artifacts[0]?.data.length, 5000);
    assert.equal(seen.stream.output().stderr.toString(), user);
  }
});

test('output past the cap is an overflow whatever artifacts follow; the artifacts still come through', () => {
  const seen = decode([stderrFrame('x'.repeat(60)), artifactFrame('a.txt', 'A'), reportFrame()], {
    keepOutputBytes: 50,
    artifacts: CAPS,
  });
  assert.equal(seen.overflows, 1);
  assert.equal(seen.stream.output().stderr.toString(), 'x'.repeat(50));
  assert.deepEqual(
    seen.stream.artifacts().artifacts.map((a) => a.name),
    ['a.txt'],
  );
});

test('an artifact frame cut short (the run was stopped) is not an artifact; the whole ones before it are', () => {
  const whole = artifactFrame('figure-2.png', Buffer.alloc(300, 7));
  const seen = decode(
    [stdoutFrame('user\n'), artifactFrame('figure-1.png', png), whole.subarray(0, whole.length - 40)],
    {
      artifacts: CAPS,
    },
  );
  assert.deepEqual(
    seen.stream.artifacts().artifacts.map((a) => a.name),
    ['figure-1.png'],
  );
  assert.equal(seen.stream.fault, null);
  assert.equal(seen.stream.output().stdout.toString(), 'user\n');
});

test('names: relative, no .., printable, at most 200 characters', () => {
  // Characters as the supervisor counts them (Python's len: code points), not UTF-16 units.
  for (const ok of ['figure-1.png', 'data/out.csv', 'a b/ü.txt', 'x'.repeat(200), '.hidden', '😀'.repeat(200)])
    assert.ok(isArtifactName(ok), ok);
  for (const bad of [
    '',
    '/etc/passwd',
    '../x',
    'a/../b',
    'a/./b',
    'a//b',
    'a/',
    './a',
    'a\\b',
    'a\nb',
    'a\u001eb',
    'a\u007fb',
    'a\u0085b',
    'a\u2028b',
    'x'.repeat(201),
    '😀'.repeat(201),
    '\ud800',
    'a\udc00',
    42,
    null,
  ])
    assert.ok(!isArtifactName(bad), JSON.stringify(bad));
});

test('a name shown in a message is printable and short whatever it was', () => {
  assert.equal(shownName('a\nb\\c\u0000.txt'), 'a?b?c?.txt');
  assert.equal(shownName('x'.repeat(300)).length, 200);
  assert.equal(shownName('ü/😀.png'), 'ü/😀.png');
  assert.equal(shownName('😀'.repeat(300)), '😀'.repeat(200), 'cut at a character, never inside one');
});

test("the report's dropped and skipped artifacts come through, bounded and printable", () => {
  const names = Array.from({ length: MAX_DROPPED_NAMES + 3 }, (_, i) => `f${i}\n.txt`);
  const r = parseReport(
    Buffer.from(
      JSON.stringify(
        reportBody({ artifacts_dropped: 30, dropped_names: names, artifacts_skipped: 1, skipped_names: ['bad\nname'] }),
      ),
    ),
  );
  assert.equal(r?.artifacts_dropped, 30);
  assert.equal(r?.dropped_names?.length, MAX_DROPPED_NAMES);
  assert.equal(r?.dropped_names?.[0], 'f0?.txt');
  assert.equal(r?.artifacts_skipped, 1);
  assert.deepEqual(r?.skipped_names, ['bad?name']);
  // Without them (nothing was kept, dropped or skipped), the report has none.
  const plain = parseReport(Buffer.from(JSON.stringify(reportBody())));
  assert.equal(plain?.artifacts_dropped, undefined);
  assert.equal(plain?.artifacts_skipped, undefined);
  // Malformed artifact fields: still a report, without them.
  for (const odd of [
    { artifacts_dropped: -1, dropped_names: [] },
    { artifacts_dropped: 1, dropped_names: 'x' },
    { artifacts_dropped: 1.5, dropped_names: [] },
    { artifacts_skipped: 1, skipped_names: [3] },
  ]) {
    const parsed = parseReport(Buffer.from(JSON.stringify(reportBody(odd))));
    assert.equal(parsed?.exit_code, 0, JSON.stringify(odd));
    assert.equal(parsed?.artifacts_dropped, undefined, JSON.stringify(odd));
    assert.equal(parsed?.artifacts_skipped, undefined, JSON.stringify(odd));
  }
});

test('the job line carries the artifact caps', () => {
  const line = encodeJobLine({
    code: 'print(1)',
    stdin: '',
    time_ms: 1000,
    memory_mb: 64,
    policy: 'standard',
    artifacts: { format: 'svg', max_count: 3, max_bytes: 1000 },
  });
  assert.deepEqual(JSON.parse(line).artifacts, { format: 'svg', max_count: 3, max_bytes: 1000 });
});
