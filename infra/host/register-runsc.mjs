// Registers runsc with Docker: `node register-runsc.mjs <daemon.json> <runsc path> [name] [flag=value ...]`.
// Prints `yes` when the file changed (dockerd must reload), `no` otherwise. Other keys and runtimes are
// left as they are. `name` defaults to runsc; the bench registers variants under other names with some
// flags changed (`directfs=true`), and `--remove <name>` takes one out again.
//
// The flags come from packages/shared/src/gvisor.json, the list the worker's self-check checks against.
// A flag the binary does not know (an operator's older runsc, SBX_RUNSC_PATH) is left out with a line on
// stderr: registering it would make every container fail to start.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';

const [file, runscPath, name = 'runsc', ...overrides] = process.argv.slice(2);
if (!file || !runscPath)
  throw new Error('usage: register-runsc.mjs <daemon.json> <runsc path> [name] [flag=value ...]');

const readConfig = () => {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return {};
  }
};
const save = (cfg, changed) => {
  if (changed) writeFileSync(file, `${JSON.stringify(cfg, null, 2)}\n`);
  process.stdout.write(changed ? 'yes' : 'no');
};

if (runscPath === '--remove') {
  const cfg = readConfig();
  const had = cfg.runtimes?.[name] !== undefined;
  if (had) delete cfg.runtimes[name];
  save(cfg, had);
  process.exit(0);
}

const set = new Map(overrides.map((o) => [o.slice(0, o.indexOf('=')), o.slice(o.indexOf('=') + 1)]));
const { flags: chosen } = JSON.parse(
  readFileSync(new URL('../../packages/shared/src/gvisor.json', import.meta.url), 'utf8'),
);
const flags = chosen.map((f) => ({ ...f, value: set.get(f.name) ?? f.value }));
// `runsc flags` prints its list on stderr.
const listed = spawnSync(runscPath, ['flags'], { encoding: 'utf8' });
const known = `${listed.stdout ?? ''}${listed.stderr ?? ''}`;
// Every runsc ever released knows --network: without it the list was not read, and nothing is dropped.
if (!/^\s+-network\b/m.test(known)) {
  process.stderr.write(
    `[ensure-host] could not read the flags of ${runscPath}: ${listed.error?.message ?? known.slice(0, 200)}\n`,
  );
  process.exit(1);
}
const runtimeArgs = [];
// The worker's supportsFlag (apps/worker/src/sandbox/runtime-probe.ts) is the same rule: the flag is
// listed and, unless boolean, its help names the value (--platform=systrap on a runsc without systrap
// would fail as surely as an unknown flag).
for (const { name, value } of flags) {
  const help = new RegExp(`^\\s+-${name}\\b.*\\n(.*)`, 'm').exec(known);
  const valueKnown = value === 'true' || value === 'false' || new RegExp(`\\b${value}\\b`).test(help?.[1] ?? '');
  if (help && valueKnown) runtimeArgs.push(`--${name}=${value}`);
  else process.stderr.write(`[ensure-host] ${runscPath} does not support --${name}=${value}; not registered\n`);
}

// Releases from before the gofer rework (no --directfs; bookworm's 20221219 among them) build their
// sandbox's chroot under TMPDIR, which dockerd sets to /var/lib/docker/tmp for its runtimes; the
// sandbox process, already nobody by then, cannot traverse a 0710 /var/lib/docker (dockerd 20.10
// leaves it so), and no container starts. Such a runsc is registered through a wrapper that gives
// it TMPDIR=/tmp, a private tmpfs in the sandbox's own mount namespace. The wrapper goes to
// /usr/local/libexec/sbx, or SBX_RUNSC_WRAPPER_DIR (a test's own folder: the unit tests run without root).
let path = runscPath;
if (!/^\s+-directfs\b/m.test(known)) {
  const dir = process.env.SBX_RUNSC_WRAPPER_DIR || '/usr/local/libexec/sbx';
  path = `${dir}/${name}`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path,
    `#!/bin/sh\n# Written by infra/host/register-runsc.mjs: see there why.\nTMPDIR=/tmp exec '${runscPath}' "$@"\n`,
  );
  chmodSync(path, 0o755);
  process.stderr.write(`[ensure-host] ${runscPath} predates --directfs: registered through ${path} (TMPDIR=/tmp)\n`);
}

const cfg = readConfig();
const want = { path, runtimeArgs };
cfg.runtimes = cfg.runtimes ?? {};
const before = JSON.stringify(cfg.runtimes[name] ?? null);
cfg.runtimes[name] = want;
save(cfg, before !== JSON.stringify(want));
