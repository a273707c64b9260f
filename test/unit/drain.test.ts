import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { DRAIN_TIMEOUT_MS, drainBody, drainLimitFor } from '@sbx/api/http/drain';

test('a refused body is read to its end and thrown away', async () => {
  const body = new PassThrough();
  const drained = drainBody(body, 1000);
  for (let i = 0; i < 9; i++) body.write(Buffer.alloc(100));
  body.end(Buffer.alloc(100));
  assert.equal(await drained, true);
  assert.equal(body.readableEnded, true);
});

test('past the byte cap it is given up on and no longer read', async () => {
  const body = new PassThrough({ highWaterMark: 16 });
  const drained = drainBody(body, 250);
  for (let i = 0; i < 3; i++) body.write(Buffer.alloc(100));
  assert.equal(await drained, false);
  assert.equal(body.isPaused(), true, 'nobody keeps reading it');
  body.write(Buffer.alloc(100));
  assert.equal(body.listenerCount('data'), 0);
});

test('a body that stops arriving is given up on after the timeout', async () => {
  const body = new PassThrough();
  const started = Date.now();
  const drained = drainBody(body, 1000, 50);
  body.write(Buffer.alloc(10));
  assert.equal(await drained, false);
  assert.ok(Date.now() - started < 1000);
  assert.ok(DRAIN_TIMEOUT_MS >= 1000, 'the real timeout leaves a slow upload time to finish');
});

test('a body already read, or a stream already gone, resolves at once', async () => {
  const done = new PassThrough();
  done.resume();
  done.end();
  await new Promise((r) => done.once('end', r));
  assert.equal(await drainBody(done, 1), true);
  const gone = new PassThrough();
  gone.destroy();
  assert.equal(await drainBody(gone, 1), false);
});

test('the cap is 64 MiB, or four times a larger body limit', () => {
  assert.equal(drainLimitFor(6_000_000), 64 * 1024 * 1024);
  assert.equal(drainLimitFor(100_000_000), 400_000_000);
});
