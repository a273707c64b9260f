/** What the worker does at Redis's memory limit, with fakes for Redis, the locks and the queue. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { watchMemoryLimit } from '@sbx/worker';
import { pino } from 'pino';
import { sleep } from '../support/poll.js';

const oom = () => new Error("OOM command not allowed when used memory > 'maxmemory'.");

/** A worker's memory-limit handling whose Redis reports `full` and whose health and engine are as set. */
function worker(state: { full: boolean; healthOk: boolean; engineUp: boolean; closing: boolean }) {
  const events: string[] = [];
  const room = watchMemoryLimit({
    redis: {
      info: async () => `used_memory:${state.full ? 200 : 50}\r\nmaxmemory:100\r\n`,
    } as never,
    locks: { keep: (on) => events.push(on ? 'keep locks' : 'let BullMQ renew') },
    queue: {
      pause: async () => {
        events.push('pause');
      },
      resume: () => events.push('resume'),
      get closing() {
        return state.closing;
      },
    },
    health: {
      publish: async () => {
        events.push('health published');
      },
      get ok() {
        return state.healthOk;
      },
    },
    engineUp: () => state.engineUp,
    log: pino({ level: 'silent' }),
    pollMs: 10,
  });
  return { room, events };
}

test('at the limit: no new jobs and the locks kept; with room: health again, and jobs', async () => {
  const state = { full: true, healthOk: true, engineUp: true, closing: false };
  const { room, events } = worker(state);
  assert.equal(room.refused(oom()), true);
  assert.equal(room.refused(oom()), true, 'a second refusal in the same spell');
  assert.deepEqual(events, ['keep locks', 'pause'], 'once per spell');
  state.full = false;
  await room.room();
  assert.deepEqual(events.slice(2), ['let BullMQ renew', 'health published', 'resume']);
  room.close();
});

test('room again, but the engine away, the self-check failed or the worker stopping: still no jobs', async () => {
  for (const held of [{ engineUp: false }, { healthOk: false }, { closing: true }]) {
    const state = { full: true, healthOk: true, engineUp: true, closing: false, ...held };
    const { room, events } = worker(state);
    room.refused(oom());
    state.full = false;
    await sleep(50);
    assert.deepEqual(events, ['keep locks', 'pause', 'let BullMQ renew', 'health published'], JSON.stringify(held));
    room.close();
  }
});
