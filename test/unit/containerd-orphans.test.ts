import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { RecentIds, reapContainerdOrphans } from '@sbx/worker';
import type Docker from 'dockerode';
import { pino } from 'pino';

const OURS = 'a'.repeat(64);
const KNOWN = 'b'.repeat(64);
const FOREIGN = 'c'.repeat(64);
const YOUNG = 'd'.repeat(64);

/** A stand-in `ctr` that answers from fixed containers and writes every call to a log. */
async function fakeCtr(dir: string): Promise<string> {
  const old = '2026-01-01T00:00:00Z';
  const now = new Date().toISOString();
  const spec = (args: string[], created: string) => JSON.stringify({ CreatedAt: created, Spec: { process: { args } } });
  const harness = ['python3.11', '-I', '/opt/sbx/supervisor.py'];
  const path = join(dir, 'ctr');
  await writeFile(
    path,
    `#!/bin/sh
echo "$*" >> ${dir}/calls
shift 4  # --address A --namespace moby
case "$1 $2" in
  "containers ls") printf '%s\\n' ${OURS} ${KNOWN} ${FOREIGN} ${YOUNG} ;;
  "containers info") case "$3" in
    ${OURS}) echo '${spec(harness, old)}' ;;
    ${KNOWN}) echo '${spec(harness, old)}' ;;
    ${FOREIGN}) echo '${spec(['nginx'], old)}' ;;
    ${YOUNG}) echo '${spec(harness, now)}' ;;
  esac ;;
esac
`,
  );
  await chmod(path, 0o755);
  return path;
}

test('a sandbox containerd holds and Docker forgot is killed and deleted; nothing else is touched', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sbx-ctr-'));
  try {
    const docker = { listContainers: async () => [{ Id: KNOWN }] } as unknown as Docker;
    const reaped = await reapContainerdOrphans({
      docker,
      log: pino({ level: 'silent' }),
      address: '/nonexistent.sock',
      ctr: await fakeCtr(dir),
    });
    assert.equal(reaped, 1);
    const changes = (await readFile(join(dir, 'calls'), 'utf8'))
      .split('\n')
      .filter((l) => / (kill|delete) /.test(` ${l} `))
      .map((l) => l.replace('--address /nonexistent.sock --namespace moby ', ''));
    assert.deepEqual(changes, [
      `tasks kill --signal SIGKILL ${OURS}`,
      `tasks delete --force ${OURS}`,
      `containers delete ${OURS}`,
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('without ctr or its socket, nothing is done', async () => {
  const docker = { listContainers: async () => [] } as unknown as Docker;
  const log = pino({ level: 'silent' });
  assert.equal(await reapContainerdOrphans({ docker, log, address: '/x.sock', ctr: '/nonexistent/ctr' }), 0);
});

test("on stop, a young forgotten sandbox the worker created itself goes too; others' young ones stay", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sbx-ctr-'));
  try {
    const docker = { listContainers: async () => [{ Id: KNOWN }] } as unknown as Docker;
    const ours = new RecentIds(2);
    for (const id of [YOUNG, FOREIGN]) ours.add(id);
    const reaped = await reapContainerdOrphans({
      docker,
      log: pino({ level: 'silent' }),
      address: '/nonexistent.sock',
      ctr: await fakeCtr(dir),
      ours,
    });
    assert.equal(reaped, 2, 'the old one and the young one of ours; never the foreign spec');
    const deleted = (await readFile(join(dir, 'calls'), 'utf8'))
      .split('\n')
      .filter((l) => / containers delete /.test(` ${l} `));
    assert.deepEqual(
      deleted.map((l) => l.split(' ').pop()),
      [OURS, YOUNG],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('RecentIds keeps the newest ids up to its bound', () => {
  const ids = new RecentIds(2);
  for (const id of ['a', 'b', 'a', 'c']) ids.add(id);
  assert.deepEqual(
    ['a', 'b', 'c'].map((id) => ids.has(id)),
    [true, false, true],
  );
});
