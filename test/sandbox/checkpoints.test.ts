import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RunResult } from '@sbx/shared';
import { pollUntil } from '../support/poll.js';
import { assertMemoryCalibration } from '../support/python-data-memory.js';
import { run, type Stack, startStack } from '../support/stack.js';

/** What a restored copy would repeat if its memory were not given fresh randomness. */
const DRAWS = [
  'import json, random, secrets, tempfile',
  'import numpy as np',
  'print(json.dumps({"random": random.random(), "numpy": float(np.random.rand()),',
  '  "tempfile": next(tempfile._get_candidate_names()), "secrets": secrets.token_hex(8), "hash": hash("sbx")}))',
].join('\n');

/**
 * python-data sandboxes restored from a checkpoint (checkpoints.ts): taken by the worker after its
 * self-check, verified by one restore, then used for every pool refill; never a job's failure when
 * restoring does not work. Needs Docker's experimental mode, which ensure-host.sh turns on.
 */
describe('python-data sandboxes restored from a checkpoint', () => {
  let dir: string;
  let stack: Stack;
  const start = () =>
    startStack({
      env: {
        SBX_ENVIRONMENTS: 'python,python-data',
        SBX_POOL_MIN: '0',
        SBX_POOL_MIN_PYTHON_DATA: '1',
        SBX_POOL_MAX: '2',
        SBX_CHECKPOINT_DIR: dir,
      },
    });
  const metric = async (name: string, labels: string) => {
    const text = await stack.worker?.metrics.registry.getSingleMetricAsString(name);
    const line = (text ?? '').split('\n').find((l) => l.includes(labels));
    return Number(line?.split(' ').pop() ?? 0);
  };
  const state = (s: string) => metric('sbx_sandbox_checkpoint_state', `environment="python-data",state="${s}"`);
  const restores = (outcome: string) =>
    metric('sbx_sandbox_restores_total', `environment="python-data",outcome="${outcome}"`);
  const idle = () => metric('sbx_pool_size', 'state="idle",environment="python-data"');
  /** The stored checkpoint's files, hashed: restores read them through links and must never write them. */
  const storeDigest = async () => {
    const stored = join(dir, (await readdir(dir))[0] ?? '');
    const hash = createHash('sha256');
    for (const name of (await readdir(stored)).sort()) hash.update(name).update(await readFile(join(stored, name)));
    return hash.digest('hex');
  };
  /** A job once the pool holds a ready sandbox again: each takes one the pool just refilled. */
  const fromPool = async (code: string): Promise<RunResult> => {
    await pollUntil(idle, (n) => n >= 1, 60_000, 100);
    return run(stack.app, { code, environment: 'python-data' });
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sbx-checkpoints-'));
    stack = await start();
  });
  after(async () => {
    await stack.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('the worker takes a checkpoint once its self-check passed, verifies it, and restores its pool from it', async () => {
    const { value, settled } = await pollUntil(
      () => state('restore'),
      (v) => v === 1,
      120_000,
      250,
    );
    assert.ok(settled, `state restore is ${value}; build_failed ${await state('build_failed')}`);
    const stored = await readdir(dir);
    assert.equal(stored.length, 1, `one checkpoint: ${stored.join(', ')}`);
    assert.equal((await stat(join(dir, stored[0] ?? ''))).mode & 0o777, 0o700, "root's alone");
    // Taken in runsc-checkpoint (ensure-host.sh registers it): its pages stay uncompressed, in a file of their own.
    assert.deepEqual((await readdir(join(dir, stored[0] ?? ''))).sort(), [
      '.complete',
      'checkpoint.img',
      'pages.img',
      'pages_meta.img',
    ]);
    const first = await fromPool('print(6 * 7)');
    assert.equal(first.status, 'ok');
    assert.equal(first.stdout, '42\n');
    const { settled: refilled } = await pollUntil(
      () => restores('restored'),
      (n) => n >= 1,
      60_000,
      100,
    );
    assert.ok(refilled, 'the pool refilled by a restore');
  });

  test('each restored copy draws its own randomness: random, numpy, tempfile names, secrets', async (t) => {
    const before = await restores('restored');
    const digest = await storeDigest();
    const draws: Record<string, unknown>[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await fromPool(DRAWS);
      assert.equal(r.status, 'ok', `${r.status}: ${r.stderr.slice(-500)}`);
      draws.push(JSON.parse(r.stdout));
    }
    assert.ok((await restores('restored')) - before >= 2, 'these ran in restored sandboxes');
    assert.equal(await storeDigest(), digest, 'the stored checkpoint is as it was taken');
    for (const key of ['random', 'numpy', 'tempfile', 'secrets'])
      assert.equal(
        new Set(draws.map((d) => d[key])).size,
        draws.length,
        `${key} differs between copies: ${JSON.stringify(draws)}`,
      );
    // Shared by design (docs/security.md): reported, not asserted.
    const hashes = new Set(draws.map((d) => d.hash)).size;
    t.diagnostic(`hash("sbx") took ${hashes} value(s) over ${draws.length} restored copies`);
  });

  test("the memory limit means what it means cold: a restored sandbox's cgroup holds the same", async () => {
    const before = await restores('restored');
    // Default limits, all at once: every one restored (a pool miss restores too), none served cold.
    await assertMemoryCalibration((code) => run(stack.app, { code, environment: 'python-data' }));
    assert.ok((await restores('restored')) - before >= 4, 'these ran in restored sandboxes');
  });

  test('a restore that fails turns restoring off for the environment, and the jobs run cold all the same', async () => {
    const stored = (await readdir(dir))[0] ?? '';
    // Sandboxes restored already read theirs when they started; the next restores read this.
    await rm(join(dir, stored, 'checkpoint.img'));
    await writeFile(join(dir, stored, 'checkpoint.img'), 'not a checkpoint');
    const results: RunResult[] = [];
    for (let i = 0; i < 3; i++)
      results.push(await run(stack.app, { code: 'print(6 * 7)', environment: 'python-data' }));
    assert.deepEqual(
      results.map((r) => `${r.status} ${r.stdout}`),
      ['ok 42\n', 'ok 42\n', 'ok 42\n'],
    );
    const { settled } = await pollUntil(
      () => state('restore_failed'),
      (v) => v === 1,
      60_000,
      100,
    );
    assert.ok(settled, 'the state says restore_failed');
    assert.ok((await restores('failed')) >= 1);
  });

  test('a worker that finds a stored checkpoint which does not restore takes it anew', async () => {
    await stack.stop();
    stack = await start();
    const { settled } = await pollUntil(
      () => state('restore'),
      (v) => v === 1,
      120_000,
      250,
    );
    assert.ok(settled, `state restore; build_failed ${await state('build_failed')}`);
    const r = await fromPool('print(6 * 7)');
    assert.equal(r.stdout, '42\n');
  });
});
