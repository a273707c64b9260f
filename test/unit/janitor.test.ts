import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runscProcesses } from '@sbx/worker';

const id = 'a'.repeat(64);

test('runsc processes are found with their container id, from the last arg or a bundle path', async () => {
  const root = await mkdtemp(join(tmpdir(), 'proc-'));
  try {
    const proc = async (pid: number, argv: string[]) => {
      await mkdir(join(root, String(pid)));
      await writeFile(join(root, String(pid), 'cmdline'), `${argv.join('\0')}\0`);
    };
    await proc(10, ['runsc-sandbox', '--root=/x', 'boot', '--bundle=/run/moby/other', id]);
    await proc(11, ['runsc-gofer', '--log=/x/log.json', 'gofer', '--bundle', `/var/run/moby/${id}`]);
    await proc(12, ['/usr/bin/python3', id]);
    await proc(13, ['runsc-gofer', 'gofer']);
    await mkdir(join(root, 'self'));
    const found = (await runscProcesses(root)).sort((a, b) => a.pid - b.pid);
    assert.deepEqual(found, [
      { pid: 10, containerId: id },
      { pid: 11, containerId: id },
      { pid: 13, containerId: null },
    ]);
  } finally {
    await rm(root, { recursive: true });
  }
});
