import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseReport } from '../../apps/worker/src/sandbox/harness-report.js';
import { encodeInput, INPUT_EOF_LINE, WIRE } from '../../apps/worker/src/sandbox/wire.js';
import { reportBody } from '../support/wire-frames.js';

/** The worker's side of interactive input (infra/sandbox/harness/wire.json, input.interactive). */
test('input goes to the supervisor as lines of base64, at most inputChunkBytes each, any bytes exactly', () => {
  const bytes = Buffer.from(Array.from({ length: 2 * WIRE.inputChunkBytes + 7 }, (_, i) => (i * 7) % 256));
  const lines = encodeInput(bytes).split('\n');
  assert.equal(lines.pop(), '', 'every message ends its line');
  assert.equal(lines.length, 3);
  const pieces = lines.map((l) => Buffer.from((JSON.parse(l) as { data: string }).data, 'base64'));
  assert.deepEqual(
    pieces.map((p) => p.length),
    [WIRE.inputChunkBytes, WIRE.inputChunkBytes, 7],
  );
  assert.deepEqual(Buffer.concat(pieces), bytes);
  assert.equal(encodeInput(Buffer.alloc(0)), '', 'nothing to send, no message');
  assert.deepEqual(JSON.parse(INPUT_EOF_LINE), { eof: true });
  assert.ok(INPUT_EOF_LINE.endsWith('\n'));
});

test('a report says which interactive bound ended the run; anything else there is left out', () => {
  const parsed = (extra: Record<string, unknown>) => parseReport(Buffer.from(JSON.stringify(reportBody(extra))));
  for (const bound of ['cpu', 'wall', 'idle', null]) assert.equal(parsed({ bound })?.bound, bound);
  assert.equal(parsed({})?.bound, undefined, 'a run that is not interactive has none');
  assert.equal(parsed({ bound: 'forever' })?.bound, undefined);
  assert.ok(parsed({ bound: 7 }), 'a bound the worker does not know is no fault');
});
