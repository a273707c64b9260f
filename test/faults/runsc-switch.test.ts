/**
 * The operator's switch for staying on another runsc, with a real older binary: Debian bookworm's own
 * runsc (release 20221219, ptrace, no directfs), fetched from Debian's archive as a package and
 * registered beside the current one under a runtime name of its own, the way SBX_RUNSC_PATH registers it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { registerRuntime, removeRuntime } from '../support/docker-runtimes.js';
import { run, startStack } from '../support/stack.js';

const RUNTIME = 'sbx-test-old-runsc';
const CACHE = process.env.SBX_ROOTFS_CACHE ?? '/var/cache/sbx';
const docker = new Docker();

/** bookworm's own runsc (not the backport), unpacked once per machine into the build cache. */
function bookwormRunsc(): string {
  const madison = execFileSync('apt-cache', ['madison', 'runsc'], { encoding: 'utf8' });
  const version = madison
    .split('\n')
    .find((l) => / bookworm\/main /.test(l))
    ?.split('|')[1]
    ?.trim();
  assert.ok(version, `bookworm's runsc in apt-cache madison:\n${madison}`);
  const bin = join(CACHE, `runsc-${version}`, 'runsc');
  if (existsSync(bin)) return bin;
  const work = mkdtempSync(join(CACHE, 'runsc-download-'));
  try {
    execFileSync('apt-get', ['download', '-qq', `runsc=${version}`], { cwd: work, stdio: 'ignore' });
    const deb = execFileSync('sh', ['-c', 'ls *.deb'], { cwd: work, encoding: 'utf8' }).trim();
    execFileSync('dpkg-deb', ['-x', deb, 'root'], { cwd: work });
    mkdirSync(join(CACHE, `runsc-${version}`), { recursive: true });
    renameSync(join(work, 'root/usr/bin/runsc'), bin);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return bin;
}

describe("an operator's older runsc (bookworm's 20221219) through the switch", () => {
  before(async () => {
    await registerRuntime(bookwormRunsc(), RUNTIME);
  });
  after(async () => {
    await removeRuntime(RUNTIME);
  });

  test('registered without the flags it lacks, it is refused by the self-check, which says how to upgrade', async () => {
    const registered = ((await docker.info()) as { Runtimes: Record<string, { runtimeArgs?: string[] }> }).Runtimes[
      RUNTIME
    ];
    assert.ok(registered);
    assert.equal(registered.runtimeArgs?.includes('--network=none'), true);
    assert.equal(
      registered.runtimeArgs?.some((a) => a.startsWith('--platform') || a.startsWith('--directfs')),
      false,
    );
    const stack = await startStack({ env: { SBX_SANDBOX_RUNTIME: RUNTIME } });
    try {
      const health = stack.worker?.health;
      assert.deepEqual(
        health?.failures.map((f) => f.check),
        ['runtime_release'],
      );
      assert.match(
        health?.failures[0]?.detail ?? '',
        /release 20221219 .* older than the minimum 20240729: run `npm run up`/,
      );
      assert.deepEqual(health?.runtime, { runtime: RUNTIME, release: '20221219', platform: 'ptrace', directfs: null });
      const ready = await stack.app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 503);
    } finally {
      await stack.stop();
    }
  });

  test('with SBX_RUNSC_MIN_RELEASE lowered knowingly, it passes its canaries and runs jobs', async () => {
    const stack = await startStack({ env: { SBX_SANDBOX_RUNTIME: RUNTIME, SBX_RUNSC_MIN_RELEASE: '20221219' } });
    try {
      assert.deepEqual(stack.worker?.health?.failures, []);
      const r = await run(stack.app, { code: 'print(2 + 2)' });
      assert.deepEqual([r.status, r.stdout], ['ok', '4\n']);
      const info = await stack.app.inject({ method: 'GET', url: '/info' });
      assert.deepEqual(info.json().sandbox, [
        { runtime: RUNTIME, release: '20221219', platform: 'ptrace', directfs: null, workers: 1 },
      ]);
    } finally {
      await stack.stop();
    }
  });
});
