import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { READY_MARKER, ReadyGate, WIRE } from '@sbx/worker';

const frame = (kind: 1 | 2, payload: Buffer) => {
  const header = Buffer.alloc(8);
  header[0] = kind;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
};

async function through(chunks: Buffer[], end = false) {
  const stream = new PassThrough();
  const gate = new ReadyGate(stream);
  const seen: Buffer[] = [];
  for (const c of chunks) stream.write(c);
  if (end) stream.end();
  await new Promise((r) => setImmediate(r));
  const ready = await Promise.race([gate.ready, new Promise<'pending'>((r) => setTimeout(() => r('pending'), 20))]);
  gate.consume((c) => seen.push(c));
  return { ready, bytes: Buffer.concat(seen) };
}

test("the marker is wire.json's ready bytes", () => {
  assert.deepEqual(READY_MARKER, WIRE.ready);
  assert.equal(WIRE.ready.toString(), '\x1esbx-ready\n');
});

test('the ready marker settles ready and is stripped, split at any byte', async () => {
  const after = frame(2, Buffer.from('err'));
  const all = Buffer.concat([frame(1, READY_MARKER), after]);
  for (let cut = 1; cut < all.length; cut++) {
    const { ready, bytes } = await through([all.subarray(0, cut), all.subarray(cut)]);
    assert.equal(ready, true, `cut at ${cut}`);
    assert.deepEqual(bytes, after);
  }
});

test('stdout sharing the marker frame is kept, re-framed', async () => {
  const { ready, bytes } = await through([frame(1, Buffer.concat([READY_MARKER, Buffer.from('4\n')]))]);
  assert.equal(ready, true);
  assert.deepEqual(bytes, frame(1, Buffer.from('4\n')));
});

test('anything else first is not ready and reaches the consumer untouched; so is an ended stream', async () => {
  const other = frame(2, Buffer.from('sbx harness: bad job frame\n'));
  assert.deepEqual(await through([other]), { ready: false, bytes: other });
  const fake = frame(1, Buffer.from('\x1esbx-nope!\n'));
  assert.deepEqual(await through([fake]), { ready: false, bytes: fake });
  assert.deepEqual(await through([], true), { ready: false, bytes: Buffer.alloc(0) });
  assert.equal((await through([Buffer.from([1, 0, 0])])).ready, 'pending', 'a partial header waits');
});
