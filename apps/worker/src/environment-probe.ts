import { ENVIRONMENT_SPECS, type Environment } from '@sbx/shared';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import type { SandboxRunner } from './sandbox/types.js';

export interface ProbedEnvironment {
  name: Environment;
  versions: Record<string, string> | null;
}

/** Run inside the environment's own sandbox: what user code would import is what gets reported. */
const versionsProgram = (libraries: readonly string[]) =>
  [
    'import json, sys',
    'found = {"python": sys.version.split()[0]}',
    `for name in ${JSON.stringify(libraries)}:`,
    '    found[name] = __import__(name).__version__',
    'print(json.dumps(found))',
  ].join('\n');

/**
 * Which of the served environments this worker can run, with their versions: the image must exist,
 * and a sandbox of it must import its libraries and say their versions. An environment that fails
 * either is not served by this worker (the API refuses it when no live worker has it), and the log
 * says how to build it.
 */
export async function probeEnvironments(opts: {
  docker: Docker;
  runner: SandboxRunner;
  environments: readonly Environment[];
  images: Record<Environment, string>;
  limits: { time_ms: number; memory_mb: number };
  log: Logger;
}): Promise<ProbedEnvironment[]> {
  const found: ProbedEnvironment[] = [];
  for (const name of opts.environments) {
    const image = opts.images[name];
    const present = await opts.docker
      .getImage(image)
      .inspect()
      .then(
        () => true,
        () => false,
      );
    if (!present) {
      opts.log.error(
        { environment: name, image },
        `environment ${name} has no image: run infra/sandbox/build-image.sh ${name} (jobs asking for it are refused)`,
      );
      continue;
    }
    const versions = await runVersions(opts.runner, name, opts.limits).catch((err: unknown) => {
      opts.log.error({ err, environment: name, image }, `environment ${name} failed its version probe: not served`);
      return undefined;
    });
    if (versions === undefined) continue;
    found.push({ name, versions });
  }
  return found;
}

async function runVersions(
  runner: SandboxRunner,
  environment: Environment,
  limits: { time_ms: number; memory_mb: number },
): Promise<Record<string, string>> {
  const sandbox = await runner.acquire({ ...limits, environment }, { jobId: `probe-${environment}` });
  try {
    const raw = await sandbox.run({
      code: versionsProgram(ENVIRONMENT_SPECS[environment].libraries),
      stdin: '',
      policy: 'standard',
    });
    const line = raw.stdout.toString('utf8').trim().split('\n').pop() ?? '';
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new Error(
        `no versions in its output: ${JSON.stringify((raw.stderr.toString('utf8') || raw.harnessLog).slice(-300))}`,
      );
    }
    if (typeof parsed !== 'object' || parsed === null) throw new Error('versions are not an object');
    return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
  } finally {
    await sandbox.dispose();
  }
}
