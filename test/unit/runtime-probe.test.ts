import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GVISOR, parseRunscRelease } from '@sbx/shared';
import { checkRuntime, describeRuntime, parseFlagListing, type RuntimeFacts, supportsFlag } from '@sbx/worker';

// What the two Debian builds print: bookworm's 20221219 and bookworm-backports' 20240729.
const fixture = (name: string) => readFile(new URL(`../fixtures/runsc/${name}`, import.meta.url), 'utf8');
const registered = GVISOR.flags.map((f) => `--${f.name}=${f.value}`);

async function facts(release: '20221219' | '20240729', runtimeArgs: string[]): Promise<RuntimeFacts> {
  return {
    name: 'runsc',
    gvisor: true,
    path: '/usr/bin/runsc',
    runtimeArgs,
    version: (await fixture(`${release}.version`)).split('\n')[0] ?? '',
    flags: parseFlagListing(await fixture(`${release}.flags`)),
  };
}

test('the release is read from Debian and upstream spellings of runsc --version', () => {
  assert.equal(parseRunscRelease('runsc version 0.0~20240729.0\nspec: 1.0.2-dev'), '20240729');
  assert.equal(parseRunscRelease('runsc version release-20231030.0'), '20231030');
  assert.equal(parseRunscRelease('runsc version 0.0~20221219.0'), '20221219');
  assert.equal(parseRunscRelease('runc version 1.1.5'), null);
});

test('flag defaults come from the real listings: systrap on 20240729, ptrace and no directfs on 20221219', async () => {
  const current = parseFlagListing(await fixture('20240729.flags'));
  assert.equal(current.get('platform')?.default, 'systrap');
  assert.equal(current.get('directfs')?.default, 'true');
  assert.equal(current.get('overlay2')?.default, 'root:self');
  assert.equal(current.get('debug')?.default, 'false', 'a boolean listed without a default is false');
  assert.equal(current.get('root')?.default, '', 'a string listed without a default is empty');
  const old = parseFlagListing(await fixture('20221219.flags'));
  assert.equal(old.get('platform')?.default, 'ptrace');
  assert.equal(old.has('directfs'), false);
  for (const flag of GVISOR.flags)
    assert.ok(supportsFlag(current, flag), `20240729 supports --${flag.name}=${flag.value}`);
  assert.equal(supportsFlag(old, { name: 'platform', value: 'systrap' }), false);
  assert.equal(supportsFlag(old, { name: 'directfs', value: 'false' }), false);
  assert.equal(supportsFlag(old, { name: 'host-uds', value: 'none' }), true);
});

test('the registered flags decide platform and directfs; an unregistered runtime shows its defaults', async () => {
  assert.deepEqual(describeRuntime(await facts('20240729', registered)), {
    runtime: 'runsc',
    release: '20240729',
    platform: 'systrap',
    directfs: false,
  });
  assert.deepEqual(describeRuntime(await facts('20240729', ['--network=none', '--platform=ptrace'])), {
    runtime: 'runsc',
    release: '20240729',
    platform: 'ptrace',
    directfs: true,
  });
  const old = describeRuntime(await facts('20221219', ['--network=none']));
  assert.deepEqual([old.release, old.platform, old.directfs], ['20221219', 'ptrace', null]);
});

test('the current release with every flag registered passes', async () => {
  assert.deepEqual(checkRuntime(await facts('20240729', registered), { minRelease: GVISOR.minRelease }), []);
});

test('an old release fails with how to upgrade, and passes once the minimum is lowered on purpose', async () => {
  // What register-runsc.mjs registers for the old binary: only the flags it knows.
  const old = await facts('20221219', ['--network=none', '--host-uds=none', '--host-fifo=none', '--overlay2=none']);
  const [failure, ...rest] = checkRuntime(old, { minRelease: GVISOR.minRelease });
  assert.equal(failure?.check, 'runtime_release');
  assert.match(failure?.detail ?? '', /runsc release 20221219 .* older than the minimum 20240729: run `npm run up`/);
  assert.match(failure?.detail ?? '', /SBX_RUNSC_MIN_RELEASE/);
  assert.deepEqual(
    rest.map((f) => f.check),
    ['runtime_flags'],
    'net-raw and allow-flag-override exist on 20221219 too and must be registered',
  );
  const complete = [...old.runtimeArgs, '--net-raw=false', '--allow-flag-override=false'];
  assert.deepEqual(checkRuntime({ ...old, runtimeArgs: complete }, { minRelease: '20221219' }), []);
});

test('a runtime registered without a flag the sandbox relies on fails, naming the flag', async () => {
  const loose = registered.filter((a) => a !== '--directfs=false');
  const failures = checkRuntime(await facts('20240729', [...loose, '--network=host']), {
    minRelease: GVISOR.minRelease,
  });
  assert.deepEqual(
    failures.map((f) => f.check),
    ['runtime_flags'],
  );
  assert.match(failures[0]?.detail ?? '', /without --network=none --directfs=false: run `npm run up`/);
});

test('runc and the like are not checked (the worker warns about them instead)', () => {
  const runc: RuntimeFacts = {
    name: 'runc',
    gvisor: false,
    path: 'runc',
    runtimeArgs: [],
    version: '',
    flags: new Map(),
  };
  assert.deepEqual(checkRuntime(runc, { minRelease: GVISOR.minRelease }), []);
  assert.deepEqual(describeRuntime(runc), { runtime: 'runc', release: null, platform: null, directfs: null });
});

/** register-runsc.mjs against a stand-in binary that prints a real release's flag listing. */
async function register(release: '20221219' | '20240729', daemonJson: string | null) {
  const dir = await mkdtemp(join(tmpdir(), 'register-runsc-'));
  try {
    const bin = join(dir, 'runsc');
    const listing = fileURLToPath(new URL(`../fixtures/runsc/${release}.flags`, import.meta.url));
    await writeFile(bin, `#!/bin/sh\n[ "$1" = flags ] && cat '${listing}' >&2\n`);
    await chmod(bin, 0o755);
    const file = join(dir, 'daemon.json');
    if (daemonJson !== null) await writeFile(file, daemonJson);
    const script = fileURLToPath(new URL('../../infra/host/register-runsc.mjs', import.meta.url));
    // An older runsc is registered through a wrapper: written here, never to the host's /usr/local/libexec.
    const env = { ...process.env, SBX_RUNSC_WRAPPER_DIR: join(dir, 'wrappers') };
    const first = spawnSync('node', [script, file, bin], { encoding: 'utf8', env });
    const second = spawnSync('node', [script, file, bin], { encoding: 'utf8', env });
    const written = JSON.parse(await readFile(file, 'utf8'));
    return { first, second, written, bin };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('register-runsc.mjs registers every flag on 20240729, keeps the rest of daemon.json, and is idempotent', async () => {
  const { first, second, written, bin } = await register('20240729', '{"live-restore": true}');
  assert.equal(first.status, 0, first.stderr);
  assert.equal(first.stdout, 'yes');
  assert.equal(second.stdout, 'no', 'a second run changes nothing');
  assert.equal(first.stderr, '');
  assert.deepEqual(written, { 'live-restore': true, runtimes: { runsc: { path: bin, runtimeArgs: registered } } });
});

test('register-runsc.mjs registers a variant under its own name with one flag changed, and removes it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'register-runsc-'));
  try {
    const bin = join(dir, 'runsc');
    const listing = fileURLToPath(new URL('../fixtures/runsc/20240729.flags', import.meta.url));
    await writeFile(bin, `#!/bin/sh\n[ "$1" = flags ] && cat '${listing}' >&2\n`);
    await chmod(bin, 0o755);
    const file = join(dir, 'daemon.json');
    const script = fileURLToPath(new URL('../../infra/host/register-runsc.mjs', import.meta.url));
    const node = (...args: string[]) => spawnSync('node', [script, file, ...args], { encoding: 'utf8' }).stdout;
    assert.equal(node(bin), 'yes');
    assert.equal(node(bin, 'variant', 'directfs=true'), 'yes');
    const both = JSON.parse(await readFile(file, 'utf8')).runtimes;
    assert.deepEqual(both.runsc.runtimeArgs, registered);
    assert.deepEqual(
      both.variant.runtimeArgs,
      registered.map((a) => (a === '--directfs=false' ? '--directfs=true' : a)),
    );
    assert.equal(node('--remove', 'variant'), 'yes');
    assert.equal(node('--remove', 'variant'), 'no');
    assert.deepEqual(Object.keys(JSON.parse(await readFile(file, 'utf8')).runtimes), ['runsc']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('register-runsc.mjs leaves out, and names, what an older runsc does not support', async () => {
  const { first, written, bin } = await register('20221219', null);
  assert.equal(first.status, 0, first.stderr);
  assert.equal(written.runtimes.runsc.path, join(dirname(bin), 'wrappers', 'runsc'), 'through its TMPDIR wrapper');
  assert.deepEqual(written.runtimes.runsc.runtimeArgs, [
    '--network=none',
    '--host-uds=none',
    '--host-fifo=none',
    '--overlay2=none',
    '--net-raw=false',
    '--allow-flag-override=false',
  ]);
  assert.match(first.stderr, /does not support --platform=systrap/);
  assert.match(first.stderr, /does not support --directfs=false/);
});

test('register-runsc.mjs registers runsc-checkpoint through a wrapper that adds --compression to checkpoint only', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'register-runsc-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const bin = join(dir, 'runsc');
  const listing = fileURLToPath(new URL('../fixtures/runsc/20240729.flags', import.meta.url));
  const checkpointHelp = fileURLToPath(new URL('../fixtures/runsc/20240729.checkpoint-help', import.meta.url));
  // Lists its flags, answers `checkpoint --help`, and otherwise prints the arguments it was given.
  await writeFile(
    bin,
    `#!/bin/sh\n[ "$1" = flags ] && { cat '${listing}' >&2; exit 0; }\n` +
      `[ "$1 $2" = "checkpoint --help" ] && { cat '${checkpointHelp}' >&2; exit 0; }\nprintf '%s|' "$@"\n`,
  );
  await chmod(bin, 0o755);
  const file = join(dir, 'daemon.json');
  const script = fileURLToPath(new URL('../../infra/host/register-runsc.mjs', import.meta.url));
  const env = { ...process.env, SBX_RUNSC_WRAPPER_DIR: join(dir, 'wrappers') };
  const node = (...args: string[]) => spawnSync('node', [script, file, bin, ...args], { encoding: 'utf8', env });
  assert.equal(node('runsc-checkpoint', '--checkpoint-compression=none').stdout, 'yes');
  const { path, runtimeArgs } = JSON.parse(await readFile(file, 'utf8')).runtimes['runsc-checkpoint'];
  assert.equal(path, join(dir, 'wrappers', 'runsc-checkpoint'));
  assert.deepEqual(runtimeArgs, registered, 'the same flags as the sandbox runtime: restores use that one');
  const run = (...args: string[]) => spawnSync(path, args, { encoding: 'utf8' }).stdout;
  assert.equal(
    run('--root', '/run/x', 'checkpoint', '--image-path', '/cp/checkpoint', 'id'),
    '--root|/run/x|checkpoint|--compression=none|--image-path|/cp/checkpoint|id|',
  );
  assert.equal(
    run('--root', '/run/x', 'restore', '--image-path', '/cp/checkpoint', 'id'),
    '--root|/run/x|restore|--image-path|/cp/checkpoint|id|',
  );
  assert.equal(
    run('--root', '/a b', 'create', 'checkpoint'),
    '--root|/a b|create|checkpoint|',
    'a later `checkpoint` is an argument',
  );
  // A runsc whose checkpoint has no such compression gets no registration, and says so.
  const refused = node('other', '--checkpoint-compression=zstd');
  assert.equal(refused.stdout, 'no');
  assert.match(refused.stderr, /checkpoint has no --compression=zstd; other not registered/);
});

test('docs/security.md explains every flag the runtime is registered with', async () => {
  const security = await readFile(new URL('../../docs/security.md', import.meta.url), 'utf8');
  for (const flag of GVISOR.flags) assert.ok(security.includes(`\`--${flag.name}=${flag.value}\``), `--${flag.name}`);
});
