// Registers runsc with Docker: `node register-runsc.mjs <daemon.json> <runsc path> [name] [flag=value ...]
// [--checkpoint-compression=none]`.
// Prints `yes` when the file changed (dockerd must reload), `no` otherwise. Other keys and runtimes are
// left as they are. `name` defaults to runsc; the bench registers variants under other names with some
// flags changed (`directfs=true`), and `--remove <name>` takes one out again. `--checkpoint-compression`
// registers a runtime whose `checkpoint` writes its pages that way (ensure-host.sh: runsc-checkpoint).
//
// The flags come from packages/shared/src/gvisor.json, the list the worker's self-check checks against.
// A flag the binary does not know (an operator's older runsc, SBX_RUNSC_PATH) is left out with a line on
// stderr: registering it would make every container fail to start.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';

const CHECKPOINT_OPTION = '--checkpoint-compression=';
const [file, runscPath, name = 'runsc', ...options] = process.argv.slice(2);
const overrides = options.filter((o) => !o.startsWith(CHECKPOINT_OPTION));
const checkpointCompression = options.find((o) => o.startsWith(CHECKPOINT_OPTION))?.slice(CHECKPOINT_OPTION.length);
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
// it TMPDIR=/tmp, a private tmpfs in the sandbox's own mount namespace.
const needsTmpdir = !/^\s+-directfs\b/m.test(known);
if (needsTmpdir)
  process.stderr.write(`[ensure-host] ${runscPath} predates --directfs: registered through a wrapper (TMPDIR=/tmp)\n`);
// Docker's checkpoint API passes no runsc flags, and runsc compresses a checkpoint's pages by default:
// a restore then spends 0.6 CPU-s inflating them, against 0.2 for reading them as they are. The
// worker takes its checkpoints in a sandbox of this runtime (SBX_CHECKPOINT_RUNTIME) and restores them
// with the plain one: the restore reads how the pages were written from the image itself.
if (checkpointCompression !== undefined) {
  const help = spawnSync(runscPath, ['checkpoint', '--help'], { encoding: 'utf8' });
  if (!new RegExp(`-compression\\b[\\s\\S]*\\b${checkpointCompression}\\b`).test(`${help.stdout}${help.stderr}`)) {
    process.stderr.write(
      `[ensure-host] ${runscPath} checkpoint has no --compression=${checkpointCompression}; ${name} not registered\n`,
    );
    save(readConfig(), false);
    process.exit(0);
  }
}
const path = needsTmpdir || checkpointCompression !== undefined ? writeWrapper() : runscPath;

/** A wrapper script for what a registration cannot say; in /usr/local/libexec/sbx or SBX_RUNSC_WRAPPER_DIR (tests). */
function writeWrapper() {
  const dir = process.env.SBX_RUNSC_WRAPPER_DIR || '/usr/local/libexec/sbx';
  const wrapper = `${dir}/${name}`;
  const lines = ['#!/bin/sh', '# Written by infra/host/register-runsc.mjs: see there why.'];
  if (checkpointCompression !== undefined)
    lines.push(
      // Only the subcommand: the first of runsc's subcommands among the arguments (the global flags
      // before it take paths and formats as values). A container id after it may be anything.
      'seen=',
      'for arg; do',
      '  shift',
      '  if [ -n "$seen" ]; then set -- "$@" "$arg"; continue; fi',
      '  case "$arg" in',
      `    checkpoint) seen=1; set -- "$@" checkpoint --compression=${checkpointCompression} ;;`,
      '    create|start|restore|run|exec|delete|kill|state|ps|pause|resume|update|events|wait|spec|list) seen=1; set -- "$@" "$arg" ;;',
      '    *) set -- "$@" "$arg" ;;',
      '  esac',
      'done',
    );
  lines.push(`${needsTmpdir ? 'TMPDIR=/tmp ' : ''}exec '${runscPath}' "$@"`, '');
  mkdirSync(dir, { recursive: true });
  writeFileSync(wrapper, lines.join('\n'));
  chmodSync(wrapper, 0o755);
  return wrapper;
}

const cfg = readConfig();
const want = { path, runtimeArgs };
cfg.runtimes = cfg.runtimes ?? {};
const before = JSON.stringify(cfg.runtimes[name] ?? null);
cfg.runtimes[name] = want;
save(cfg, before !== JSON.stringify(want));
