/** The worker's engine-outage state machine, with a fake queue: no Docker, no Redis. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createWorkerMetrics, EngineOutage } from '@sbx/worker';
import { pino } from 'pino';
import { sleep } from '../support/poll.js';

const gauge = async (g: { get(): Promise<{ values: { value: number }[] }> }) => (await g.get()).values[0]?.value;

/** An outage on a queue that records what it was told, with a listener that records what it heard. */
function outage(waitMs: number, pause: () => Promise<void> = async () => {}) {
  const events: string[] = [];
  const metrics = createWorkerMetrics();
  const queue = {
    pause: () => {
      events.push('pause');
      return pause();
    },
    resume: () => events.push('resume'),
  };
  const o = new EngineOutage({ waitMs, queue, metrics, log: pino({ level: 'silent' }) });
  o.listen({ down: () => events.push('health published'), up: () => events.push('recheck') });
  return { o, events, metrics };
}

test('down: the queue pauses, health says so, and every job taken goes back to wait until the bound', async () => {
  const { o, events, metrics } = outage(60_000);
  assert.equal(await gauge(metrics.dockerUp), 1, 'up from the start');
  assert.equal(o.judge(new Date(0).toISOString()), 'run', 'while up, even an old job runs');
  const downAt = Date.now();
  o.down(downAt);
  assert.equal(o.engineUp, false);
  assert.deepEqual(events, ['pause', 'health published']);
  assert.equal(await gauge(metrics.dockerUp), 0);
  assert.equal(await gauge(metrics.dockerOutages), 1);
  // A job queued long ago, taken just as the engine went: the outage is younger than the bound.
  assert.equal(o.judge(new Date(0).toISOString(), downAt + 1000), 'wait');
  o.stop();
});

test('past the bound the queue resumes: jobs that waited it out fail, younger ones still wait', async () => {
  const { o, events } = outage(40);
  const downAt = Date.now();
  o.down(downAt);
  await sleep(80);
  assert.deepEqual(events, ['pause', 'health published', 'resume'], 'resumed once, at the bound');
  const later = downAt + 40;
  assert.equal(o.judge(new Date(downAt - 1000).toISOString(), later), 'fail', 'queued before the outage');
  assert.equal(
    o.judge(new Date(later - 39).toISOString(), later),
    'wait',
    'queued during it: still owed part of its wait',
  );
  assert.equal(o.judge(new Date(downAt - 1000).toISOString(), downAt + 39), 'wait', 'the outage itself is younger');
  o.stop();
});

test('up: the self-check runs again, and the bound no longer resumes anything', async () => {
  const { o, events, metrics } = outage(40);
  o.down();
  o.up();
  assert.equal(o.engineUp, true);
  assert.equal(await gauge(metrics.dockerUp), 1);
  assert.equal(o.judge(new Date(0).toISOString()), 'run');
  await sleep(80);
  assert.deepEqual(events, ['pause', 'health published', 'recheck'], 'no resume: the recheck decides that');
  // A second outage counts again and has a bound of its own.
  o.down();
  await sleep(80);
  assert.deepEqual(events.slice(3), ['pause', 'health published', 'resume']);
  assert.equal(await gauge(metrics.dockerOutages), 2);
  o.stop();
});

test('a queue that cannot pause is logged, not thrown; stop clears the bound', async () => {
  const { o, events } = outage(30, async () => {
    throw new Error('Connection is closed.');
  });
  o.down();
  o.stop();
  await sleep(60);
  assert.deepEqual(events, ['pause', 'health published'], 'stopped: no resume');
});
