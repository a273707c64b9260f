import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { loadConfig } from '@sbx/shared';
import { DockerSandboxRunner, LABELS, OomEvents, sandboxSettingsFromConfig } from '@sbx/worker';
import Docker from 'dockerode';
import { FILLS_THE_CGROUP } from '../support/memory-programs.js';

/**
 * Docker's OOM event, not inspect's OOMKilled flag, decides an unexplained SIGKILL: under load Docker
 * often handles the exit first and the flag stays false (see OomEvents).
 */
const docker = new Docker();
const config = loadConfig({});
const workerId = `oomtest-${randomBytes(3).toString('hex')}`;
const events = new OomEvents(docker, `${LABELS.worker}=${workerId}`);
const runner = new DockerSandboxRunner({
  docker,
  workerId,
  prefix: `sbxtest-${workerId}`,
  keepOutputBytes: 1 << 20,
  wallGraceMs: 2000,
  oomEvents: events,
  settings: sandboxSettingsFromConfig(config),
});

before(() => events.start());
after(() => events.close());

async function runOnce(code: string) {
  const sandbox = await runner.acquire({ time_ms: 2000, memory_mb: 128 }, { jobId: 'oom-events' });
  try {
    const raw = await sandbox.run({ code, stdin: '', policy: 'standard' });
    return { raw, sawOom: await events.happened(sandbox.id, 3000) };
  } finally {
    await sandbox.dispose();
  }
}

test('a sandbox the kernel OOM-kills gets its event and is judged OOM-killed', async () => {
  // Past the cgroup limit by a route RLIMIT_AS does not count: the kernel, not a MemoryError, ends it.
  const { raw, sawOom } = await runOnce(FILLS_THE_CGROUP);
  assert.equal(sawOom, true, 'the oom event arrived');
  assert.equal(raw.oomKilled, true);
  assert.equal(raw.exitCode, 137);
});

test('a sandbox that ends cleanly has no OOM event', async () => {
  const { raw, sawOom } = await runOnce('print(1)');
  assert.equal(raw.oomKilled, false);
  assert.equal(sawOom, false);
});
