import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { GVISOR, parseRunscRelease, type RunscFlag, type SandboxRuntime } from '@sbx/shared';
import type Docker from 'dockerode';

const run = promisify(execFile);
/** `runsc --version` and `runsc flags` answer in milliseconds; a hung binary must not hang the worker's start. */
const COMMAND_TIMEOUT_MS = 10_000;

/** What Docker has registered under a runtime name, and what the binary says of itself. */
export interface RuntimeFacts {
  name: string;
  /** False for runc and the like: nothing below is asked of them, and only a warning stands for the checks. */
  gvisor: boolean;
  path: string;
  runtimeArgs: string[];
  /** First line of `<path> --version`. */
  version: string;
  /** Every flag `<path> flags` lists, with its default and help. */
  flags: Map<string, { default: string; help: string }>;
}

/** One failed runtime check, in the self-check's shape. */
export interface RuntimeFailure {
  check: 'runtime_registered' | 'runtime_release' | 'runtime_flags';
  detail: string;
}

const UPGRADE = 'run `npm run up` (infra/host/ensure-host.sh installs runsc from bookworm-backports and registers it)';

/**
 * Every flag in Go's flag listing, which runsc prints for `runsc flags`
 * (`  -platform string\n    \tspecifies ... (default "systrap")`), with its default and help text.
 * A boolean listed with no default is false.
 */
export function parseFlagListing(listing: string): Map<string, { default: string; help: string }> {
  const flags = new Map<string, { default: string; help: string }>();
  for (const entry of listing.split(/\n(?=\s{2}-)/)) {
    // The word after the name, on the same line, is the value's type: none for a boolean.
    const head = /^\s*-([\w-]+)(?:[ \t]+(\S+))?/.exec(entry);
    if (!head?.[1]) continue;
    const fallback = /\(default "?([^")]*)"?\)\s*$/.exec(entry.trim())?.[1];
    flags.set(head[1], { default: fallback ?? (head[2] ? '' : 'false'), help: entry });
  }
  return flags;
}

/**
 * Whether the binary takes `--name=value`: it lists the flag and, unless the value is a boolean, names
 * the value in its help (`systrap` is not among 20221219's platforms). register-runsc.mjs applies the
 * same rule when it leaves flags out.
 */
export function supportsFlag(listing: ReadonlyMap<string, { help: string }>, flag: { name: string; value: string }) {
  const entry = listing.get(flag.name);
  if (!entry) return false;
  return flag.value === 'true' || flag.value === 'false' || new RegExp(`\\b${flag.value}\\b`).test(entry.help);
}

/** `--name=value` and bare `--name` (a boolean set true) on top of the binary's defaults. */
export function effectiveFlags(runtimeArgs: readonly string[], defaults: ReadonlyMap<string, string> = new Map()) {
  const flags = new Map(defaults);
  for (const arg of runtimeArgs) {
    const m = /^--?([\w-]+)(?:=(.*))?$/.exec(arg);
    if (m?.[1]) flags.set(m[1], m[2] ?? 'true');
  }
  return flags;
}

/** What GET /info, the log line and the info metric say of the runtime. */
export function describeRuntime(facts: RuntimeFacts): SandboxRuntime {
  if (!facts.gvisor) return { runtime: facts.name, release: null, platform: null, directfs: null };
  const defaults = new Map([...facts.flags].map(([name, f]) => [name, f.default]));
  const flags = effectiveFlags(facts.runtimeArgs, defaults);
  const directfs = flags.get('directfs');
  return {
    runtime: facts.name,
    release: parseRunscRelease(facts.version),
    platform: flags.get('platform') ?? null,
    directfs: directfs === undefined ? null : directfs === 'true',
  };
}

/**
 * The release must be at least `minRelease`; every required flag the binary supports must be registered
 * with its value. One it does not support was left out on purpose by register-runsc.mjs (an older runsc
 * an operator chose): the release check is what refuses that binary, unless lowered.
 */
export function checkRuntime(
  facts: RuntimeFacts,
  opts: { minRelease: string; required?: readonly RunscFlag[] },
): RuntimeFailure[] {
  if (!facts.gvisor) return [];
  const failures: RuntimeFailure[] = [];
  const release = parseRunscRelease(facts.version);
  if (!release)
    failures.push({
      check: 'runtime_release',
      detail: `cannot tell the release of ${facts.path} from "${facts.version}"`,
    });
  else if (release < opts.minRelease)
    failures.push({
      check: 'runtime_release',
      detail:
        `runsc release ${release} at ${facts.path} is older than the minimum ${opts.minRelease}: ${UPGRADE}, ` +
        'or set SBX_RUNSC_MIN_RELEASE to accept it knowingly',
    });
  const registered = effectiveFlags(facts.runtimeArgs);
  const wrong = (opts.required ?? GVISOR.flags)
    .filter((f) => supportsFlag(facts.flags, f) && registered.get(f.name) !== f.value)
    .map((f) => `--${f.name}=${f.value}`);
  if (wrong.length)
    failures.push({
      check: 'runtime_flags',
      detail: `runtime "${facts.name}" is registered without ${wrong.join(' ')}: ${UPGRADE}`,
    });
  return failures;
}

/**
 * Asks Docker what the runtime is and the binary what it is. The binary runs on this host: the worker
 * shares the engine's host (its janitor reads the host's /proc too); docker-compose mounts it in.
 */
export async function inspectRuntime(docker: Docker, name: string): Promise<RuntimeFacts> {
  const info = (await docker.info()) as { Runtimes?: Record<string, { path?: string; runtimeArgs?: string[] }> };
  const entry = info.Runtimes?.[name];
  if (!entry?.path) throw new RuntimeProbeError(`Docker has no runtime named "${name}": ${UPGRADE}`);
  const path = entry.path;
  const runtimeArgs = entry.runtimeArgs ?? [];
  if (!/runsc/.test(`${name} ${path}`))
    return { name, gvisor: false, path, runtimeArgs, version: '', flags: new Map() };
  const ask = async (args: string[]) => {
    try {
      const { stdout, stderr } = await run(path, args, { timeout: COMMAND_TIMEOUT_MS, encoding: 'utf8' });
      return `${stdout}${stderr}`;
    } catch (err) {
      throw new RuntimeProbeError(
        `cannot run ${path} ${args.join(' ')} on the worker's host: ${(err as Error).message}`,
      );
    }
  };
  const [version, listing] = await Promise.all([ask(['--version']), ask(['flags'])]);
  return {
    name,
    gvisor: true,
    path,
    runtimeArgs,
    version: version.split('\n')[0]?.trim() ?? '',
    flags: parseFlagListing(listing),
  };
}

export class RuntimeProbeError extends Error {
  readonly code = 'runtime_unavailable';
  constructor(message: string) {
    super(message);
    this.name = 'RuntimeProbeError';
  }
}
