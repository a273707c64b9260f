import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { loadWorkerConfig } from '@sbx/shared';
import {
  buildContainerSpec,
  type Checkpoint,
  CheckpointBuilder,
  CheckpointRegistry,
  checkpointKey,
  installCheckpoint,
  ReadyGate,
  sandboxSettingsFromConfig,
} from '@sbx/worker';

const settings = sandboxSettingsFromConfig(loadWorkerConfig({}));
const limits = { time_ms: 2000, memory_mb: 128, environment: 'python-data' as const };
const keyOf = (spec: ReturnType<typeof buildContainerSpec>, imageId = 'sha256:a') =>
  checkpointKey({ imageId, runtime: { path: '/usr/bin/runsc' }, spec, dockerVersion: '20.10.24' });

test("a checkpoint's key: job, worker and a pool start's CPU weight do not split it; image, memory and runtime do", () => {
  const base = keyOf(buildContainerSpec(settings, limits, { jobId: 'a', workerId: 'w1', prefix: 'p' }));
  assert.match(base, /^sbx-[0-9a-f]{24}$/);
  assert.equal(keyOf(buildContainerSpec(settings, limits, { jobId: 'b', workerId: 'w2', prefix: 'q' }, true)), base);
  assert.notEqual(
    keyOf(buildContainerSpec(settings, limits, { jobId: 'a', workerId: 'w1', prefix: 'p' }), 'sha256:b'),
    base,
  );
  const bigger = buildContainerSpec(
    settings,
    { ...limits, memory_mb: 256 },
    { jobId: 'a', workerId: 'w1', prefix: 'p' },
  );
  assert.notEqual(keyOf(bigger), base);
  const spec = buildContainerSpec(settings, limits, { jobId: 'a', workerId: 'w1', prefix: 'p' });
  const other = checkpointKey({
    imageId: 'sha256:a',
    runtime: { path: '/opt/runsc' },
    spec,
    dockerVersion: '20.10.24',
  });
  assert.notEqual(other, base);
});

test("a checkpoint goes into a container's folder as symbolic links to the store, its marker left out and the copy named", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sbx-ckpt-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const from = join(dir, 'store', 'sbx-k');
  await mkdir(join(from, 'sub'), { recursive: true });
  await writeFile(join(from, 'checkpoint.img'), 'image');
  await writeFile(join(from, 'sub', 'part'), 'part');
  await writeFile(join(from, '.complete'), 'done');
  const to = join(dir, 'containers', 'c1', 'checkpoints', 'sbx-k');
  await installCheckpoint(from, to, 'c1');
  // Each copy names itself: two restores of one checkpoint upload different tars to containerd.
  assert.deepEqual((await readdir(to)).sort(), ['.copy', 'checkpoint.img', 'sub']);
  assert.equal(await readFile(join(to, '.copy'), 'utf8'), 'c1\n');
  assert.equal(await readFile(join(to, 'sub', 'part'), 'utf8'), 'part');
  // Links, not copies: Docker tars the folder on each start, and the links stay links in that tar.
  assert.equal(await readlink(join(to, 'checkpoint.img')), join(from, 'checkpoint.img'));
  assert.equal(await readlink(join(to, 'sub', 'part')), join(from, 'sub', 'part'));
});

test('a restored sandbox needs no ready marker: its gate is open at once and passes every byte', async () => {
  const stream = new PassThrough();
  const gate = new ReadyGate(stream, false);
  assert.equal(await gate.ready, true);
  const seen: Buffer[] = [];
  gate.consume((c) => seen.push(c));
  stream.write(Buffer.from([1, 0, 0, 0, 0, 0, 0, 2, 104, 105]));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(Buffer.concat(seen), Buffer.from([1, 0, 0, 0, 0, 0, 0, 2, 104, 105]));
});

function registry(over: {
  support?: { dockerRoot: string } | { cold: 'not_experimental' };
  verify?: (c: Checkpoint) => Promise<void>;
  stored?: boolean;
}) {
  const states: string[] = [];
  const restores: string[] = [];
  const warnings: string[] = [];
  const takes: boolean[] = [];
  const taken: Checkpoint = {
    environment: 'python-data',
    memoryMb: 128,
    key: 'sbx-k',
    dir: '/store/sbx-k',
    takenWith: 'runsc',
  };
  const reg = new CheckpointRegistry({
    builder: {
      engineSupport: async () => over.support ?? { dockerRoot: '/var/lib/docker' },
      checkpointFor: async (_spec, _root, retake = false) => {
        takes.push(retake);
        return { checkpoint: taken, taken: retake || !over.stored };
      },
      prune: async () => {},
    },
    verify: over.verify ?? (async () => {}),
    log: { info: () => {}, warn: (_o: unknown, msg?: string) => void warnings.push(msg ?? '') },
    onState: (e, s) => void states.push(`${e}:${s}`),
    onRestore: (e, o) => void restores.push(`${e}:${o}`),
  });
  return { reg, states, restores, warnings, taken, takes };
}

test('checkpoints are used only once verified, only for their memory limit, and a failed restore turns them off', async () => {
  const { reg, states, restores, taken } = registry({});
  assert.equal(reg.for(limits), null, 'nothing before prepare');
  await reg.prepare([limits]);
  assert.deepEqual(states, ['python-data:restore']);
  assert.equal(reg.dockerRoot, '/var/lib/docker');
  assert.equal(reg.for(limits), taken);
  assert.equal(reg.for({ ...limits, memory_mb: 256 }), null, 'another limit starts cold');
  assert.equal(reg.for({ ...limits, environment: 'python' }), null);
  reg.restored(taken);
  reg.failed(taken, new Error('restore failed'));
  assert.equal(reg.for(limits), null);
  assert.deepEqual(states, ['python-data:restore', 'python-data:restore_failed']);
  assert.deepEqual(restores, ['python-data:restored', 'python-data:failed']);
});

test('without experimental mode, or with a checkpoint that does not verify, sandboxes start cold and the log says why', async () => {
  const off = registry({ support: { cold: 'not_experimental' } });
  await off.reg.prepare([limits]);
  assert.deepEqual(off.states, ['python-data:not_experimental']);
  assert.match(off.warnings.join('\n'), /experimental/);
  assert.equal(off.reg.for(limits), null);

  const bad = registry({
    verify: async () => {
      throw new Error('answered "", exit 1');
    },
  });
  await bad.reg.prepare([limits]);
  assert.deepEqual(bad.states, ['python-data:build_failed']);
  assert.equal(bad.reg.for(limits), null);
});

test('a stored checkpoint that does not restore is taken anew once; one just taken that does not is not retried', async () => {
  let calls = 0;
  const stale = registry({
    stored: true,
    verify: async () => {
      calls += 1;
      if (calls === 1) throw new Error('restore failed');
    },
  });
  await stale.reg.prepare([limits]);
  assert.deepEqual(stale.takes, [false, true]);
  assert.deepEqual(stale.states, ['python-data:restore']);
  assert.match(stale.warnings.join('\n'), /taking it anew/);

  const fresh = registry({
    verify: async () => {
      throw new Error('restore failed');
    },
  });
  await fresh.reg.prepare([limits]);
  assert.deepEqual(fresh.takes, [false]);
  assert.deepEqual(fresh.states, ['python-data:build_failed']);
});

test("pruning keeps the checkpoint in use and a week's others; removes older ones and stale takes", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sbx-prune-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const now = Date.now();
  const day = 86_400_000;
  const made = async (name: string, ageMs: number, complete = true) => {
    await mkdir(join(dir, name), { recursive: true });
    const at = (now - ageMs) / 1000;
    if (complete) {
      await writeFile(join(dir, name, '.complete'), 'x');
      await utimes(join(dir, name, '.complete'), at, at);
    } else await utimes(join(dir, name), at, at);
  };
  await made('sbx-in-use', 30 * day);
  await made('sbx-yesterday', day);
  await made('sbx-old', 8 * day);
  await made('sbx-k.sbx-k-1234.partial', 2 * 3_600_000, false);
  await made('sbx-k.sbx-k-5678.partial', 60_000, false);
  const builder = new CheckpointBuilder({ docker: {} as never, settings, dir, labels: { workerId: 'w', prefix: 'p' } });
  await builder.prune('sbx-in-use', now);
  assert.deepEqual((await readdir(dir)).sort(), ['sbx-in-use', 'sbx-k.sbx-k-5678.partial', 'sbx-yesterday']);
  assert.ok(now - (await stat(join(dir, 'sbx-in-use', '.complete'))).mtimeMs < 5000, 'in use: marked as used now');
});
