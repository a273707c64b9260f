import { type Environment, RUNTIME, type ServiceInfo } from '@sbx/shared';
import semver from 'semver';

/** One entry of GET /api/v2/runtimes, and the environment a job for it runs in. */
export interface PistonRuntime {
  language: string;
  version: string;
  aliases: string[];
  environment: Environment;
}

/**
 * Piston's name for each environment: plain python is Piston's own "python" with its aliases; the
 * python-data environment is the same interpreter with numpy, pandas and matplotlib preloaded, which
 * Piston models as a language of its own (as it does "deno-ts" beside "typescript").
 */
const LANGUAGES: Record<Environment, { language: string; aliases: string[] }> = {
  python: { language: 'python', aliases: ['py', 'py3', 'python3'] },
  'python-data': { language: 'python-data', aliases: ['py-data', 'pydata'] },
};

/**
 * The Python version a live worker found in the environment's image ("3.11.2"); until one has said,
 * the version every image carries (RUNTIME) as semver, "3.11.0".
 */
function versionOf(environment: ServiceInfo['environments'][number]): string {
  const found = environment.versions?.python;
  return (found && semver.valid(found)) || (semver.coerce(RUNTIME.version)?.version ?? '0.0.0');
}

/** The runtimes this caller may use: one per environment offered to it (GET /info's environments). */
export function pistonRuntimes(info: Pick<ServiceInfo, 'environments'>): PistonRuntime[] {
  return info.environments.map((e) => ({ ...LANGUAGES[e.name], version: versionOf(e), environment: e.name }));
}

/**
 * Piston's choice: the newest runtime whose language or alias is `language` and whose version
 * satisfies the semver range `version` ("3.11.2", "3.x", "*"); undefined for none (nor for a range
 * semver cannot read).
 */
export function selectRuntime(runtimes: PistonRuntime[], language: string, version: string): PistonRuntime | undefined {
  return runtimes
    .filter((rt) => (rt.language === language || rt.aliases.includes(language)) && satisfies(rt.version, version))
    .sort((a, b) => semver.rcompare(a.version, b.version))[0];
}

function satisfies(version: string, range: string): boolean {
  try {
    return semver.satisfies(version, range);
  } catch {
    return false;
  }
}
