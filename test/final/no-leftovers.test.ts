import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LABELS, runscProcesses } from '@sbx/worker';
import Docker from 'dockerode';
import { leftBehind } from '../support/burst.js';
import { netLeftovers } from '../support/netns.js';

/**
 * Runs after the sandbox tier and again after the faults tier (infra/test.sh): neither may leave a sandbox
 * container, runsc process or containerd task behind.
 */
test('no sandbox container or runsc process is left after the suite', async () => {
  const docker = new Docker();
  const deadline = Date.now() + 10_000;
  let containers = await docker.listContainers({ all: true, filters: { label: [`${LABELS.managed}=1`] } });
  let procs = await runscProcesses();
  while ((containers.length > 0 || procs.length > 0) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    containers = await docker.listContainers({ all: true, filters: { label: [`${LABELS.managed}=1`] } });
    procs = await runscProcesses();
  }
  assert.deepEqual(
    containers.map((c) => `${c.Id.slice(0, 12)} ${c.State} job=${c.Labels[LABELS.job]}`),
    [],
    'sandbox containers left behind',
  );
  assert.deepEqual(procs, [], 'runsc processes left behind');
  // Sandboxes containerd still holds that Docker has forgotten (a dockerd killed mid-start).
  assert.deepEqual((await leftBehind('none')).forgotten, [], 'containerd sandboxes Docker forgot');
});

/** The fleet test's hosts: network namespaces, their bridge and veth links, the bridge's FORWARD rule. */
test('no test network namespace, bridge, link or firewall rule is left after the suite', async () => {
  assert.deepEqual(await netLeftovers(), [], 'test network left behind (test/support/netns.ts)');
});

/** test/faults/compose-stack.test.ts brings compose projects named sbxcompose…: each must be down. */
test('no compose project of the suite is left up', async () => {
  const docker = new Docker();
  const ours = (labels: Record<string, string> | undefined) =>
    labels?.['com.docker.compose.project']?.startsWith('sbxcompose') ?? false;
  const containers = (await docker.listContainers({ all: true })).filter((c) => ours(c.Labels));
  const networks = (await docker.listNetworks()).filter((n) => ours(n.Labels));
  const volumes = ((await docker.listVolumes()).Volumes ?? []).filter((v) => ours(v.Labels ?? undefined));
  assert.deepEqual(
    [...containers.flatMap((c) => c.Names), ...networks.map((n) => n.Name), ...volumes.map((v) => v.Name)],
    [],
    'compose containers, networks or volumes left behind',
  );
});
