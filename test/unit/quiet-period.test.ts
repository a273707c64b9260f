import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QuietPeriod } from '@sbx/worker';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('busy while a job runs and for the quiet period after the last one; then told once', async () => {
  let told = 0;
  const q = new QuietPeriod({ quietMs: 40, onQuiet: () => told++ });
  assert.equal(q.busy(), false, 'a fresh worker is quiet');
  q.jobStarted();
  q.jobStarted();
  q.jobEnded();
  await sleep(60);
  assert.equal(q.busy(), true, 'one job still runs');
  assert.equal(told, 0);
  q.jobEnded();
  assert.equal(q.busy(), true, 'just ended: not quiet yet');
  await sleep(20);
  assert.equal(told, 0);
  await sleep(40);
  assert.equal(q.busy(), false);
  assert.equal(told, 1);
});

test('a job starting within the quiet period puts it off until after that job', async () => {
  let told = 0;
  const q = new QuietPeriod({ quietMs: 30, onQuiet: () => told++ });
  q.jobStarted();
  q.jobEnded();
  await sleep(10);
  q.jobStarted();
  await sleep(50);
  assert.equal(told, 0, 'back to back: never quiet in between');
  q.jobEnded();
  await sleep(50);
  assert.equal(told, 1);
  q.jobStarted();
  q.jobEnded();
  q.close();
  await sleep(50);
  assert.equal(told, 1, 'closed: no more callbacks');
  assert.equal(q.busy(), false);
});
