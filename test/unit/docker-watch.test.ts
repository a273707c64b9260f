import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DockerWatch, lostBecause } from '@sbx/worker';
import type Docker from 'dockerode';

/** An engine (and its containerd) that the test switches on and off. */
function engine(named = ['Engine', 'containerd', 'runc']) {
  const state = { up: true, containerd: true, probes: 0 };
  const docker = {
    version: async () => {
      state.probes += 1;
      if (!state.up) throw new Error('connect ENOENT /var/run/docker.sock');
      return { Components: named.filter((n) => n !== 'containerd' || state.containerd).map((Name) => ({ Name })) };
    },
  } as unknown as Docker;
  return { state, docker };
}

test('the watch reports the engine going away and coming back, once each, and wakes who waits', async () => {
  const { state, docker } = engine();
  const events: string[] = [];
  const watch = new DockerWatch(docker, { onDown: () => events.push('down'), onUp: () => events.push('up') });
  assert.equal(await watch.check(), true);
  state.up = false;
  assert.equal(await watch.check(), false);
  assert.equal(await watch.check(), false);
  assert.equal(watch.up, false);
  const waited = watch.waitUntilUp(5000);
  const gaveUp = await watch.waitUntilUp(10);
  assert.equal(gaveUp, false, 'a bounded wait ends without the engine');
  state.up = true;
  await watch.check();
  assert.equal(await waited, true);
  assert.deepEqual(events, ['down', 'up']);
  assert.equal(await watch.waitUntilUp(0), true, 'answers at once while up');
});

test('an engine whose containerd is gone counts as away: no container could start', async () => {
  const { state, docker } = engine();
  const watch = new DockerWatch(docker);
  assert.equal(await watch.check(), true);
  state.containerd = false;
  assert.equal(await watch.check(), false);
  state.containerd = true;
  assert.equal(await watch.check(), true);
});

test('an engine that never names a containerd is judged by its answer alone', async () => {
  const { docker } = engine(['Engine']);
  assert.equal(await new DockerWatch(docker).check(), true);
});

test('an engine that stops answering counts as away after the slow probes allowed, not before', async () => {
  const docker = { version: () => new Promise(() => {}) } as unknown as Docker;
  const events: string[] = [];
  const watch = new DockerWatch(docker, { timeoutMs: 20, slowProbesBeforeDown: 3, onDown: () => events.push('down') });
  assert.equal(await watch.check(), true);
  assert.equal(await watch.check(), true);
  assert.deepEqual(events, [], 'two slow answers are a busy engine');
  assert.equal(await watch.check(), false);
  assert.deepEqual(events, ['down']);
});

test('a slow answer between prompt ones never takes the engine away', async () => {
  let calls = 0;
  const docker = {
    version: () =>
      ++calls % 2
        ? new Promise(() => {})
        : Promise.resolve({ Components: [{ Name: 'Engine' }, { Name: 'containerd' }] }),
  } as unknown as Docker;
  const watch = new DockerWatch(docker, { timeoutMs: 20, slowProbesBeforeDown: 2 });
  for (let i = 0; i < 6; i++) assert.equal(await watch.check(), true, `probe ${i}`);
});

test('a refused connection is away at once, whatever slowness is allowed', async () => {
  const { state, docker } = engine();
  const watch = new DockerWatch(docker, { slowProbesBeforeDown: 5 });
  state.up = false;
  assert.equal(await watch.check(), false);
});

const base = {
  killedBy: null,
  oomKilled: false,
  exitCode: 0,
  completed: true,
  streamCut: false,
  engineKilled: false,
} as const;

test('a run is judged when the worker, the harness or the kernel ended it', () => {
  assert.equal(lostBecause(base), null);
  assert.equal(lostBecause({ ...base, completed: false, killedBy: 'deadline', exitCode: 137 }), null);
  assert.equal(lostBecause({ ...base, completed: false, killedBy: 'abort', exitCode: null }), null);
  assert.equal(lostBecause({ ...base, completed: false, oomKilled: true, exitCode: 137 }), null);
  assert.equal(lostBecause({ ...base, completed: false, exitCode: 70 }), null, 'a refused frame is classified');
});

test('a run ended from outside is lost, naming the cause', () => {
  const lost = (over: Partial<Parameters<typeof lostBecause>[0]>) =>
    lostBecause({ ...base, completed: false, ...over });
  assert.match(
    lost({ exitCode: 143, engineKilled: true }) ?? '',
    /Docker engine stopped the sandbox \(signal 15, SIGTERM\)/,
  );
  assert.match(lost({ exitCode: 137, engineKilled: true }) ?? '', /signal 9, SIGKILL/);
  assert.match(lost({ exitCode: null }) ?? '', /exit status was lost/);
  assert.match(lost({ exitCode: null, streamCut: true }) ?? '', /output stream was cut/);
  assert.match(lost({ exitCode: 1 }) ?? '', /harness ended without finishing the run \(exit code 1\)/);
});

test('a signal exit without word from the engine is lost too: the program cannot signal its supervisor', () => {
  assert.match(
    lostBecause({ ...base, completed: false, exitCode: 137 }) ?? '',
    /killed from outside the engine \(signal 9, SIGKILL\): its runsc processes on the host/,
  );
  assert.match(lostBecause({ ...base, completed: false, exitCode: 143 }) ?? '', /signal 15, SIGTERM/);
});
