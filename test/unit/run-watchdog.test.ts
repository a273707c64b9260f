import assert from 'node:assert/strict';
import { test } from 'node:test';
import { watchdogMs, withinWatchdog } from '@sbx/worker';

test('a run that never ends is given up as lost once the watchdog fires', async () => {
  await assert.rejects(withinWatchdog(new Promise(() => {}), 20), {
    name: 'SandboxLostError',
    message: /did not end within 0 s: the Docker engine stopped answering/,
  });
});

test('a run that ends in time passes through, result or error', async () => {
  assert.equal(await withinWatchdog(Promise.resolve(7), 1000), 7);
  await assert.rejects(withinWatchdog(Promise.reject(new Error('start failed')), 1000), /start failed/);
});

test('the watchdog allows every test time limit plus 90 s', () => {
  const data = { limits: { time_ms: 2000 }, tests: [{ limits: { time_ms: 300 } }, { limits: { time_ms: 500 } }] };
  assert.equal(watchdogMs(data as never), 2800 + 90_000);
});

test("an interactive job's watchdog counts its wall-clock bound, not its CPU time limit", () => {
  const data = { limits: { time_ms: 2000 }, interactive: { wall_ms: 60_000, idle_ms: 30_000 } };
  assert.equal(watchdogMs(data as never), 60_000 + 90_000);
});
