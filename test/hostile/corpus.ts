import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ENVIRONMENT, ENVIRONMENTS, type Environment, RUN_STATUSES, type RunStatus } from '@sbx/shared';

export interface HostileCase {
  name: string;
  code: string;
  policy: 'strict' | 'standard';
  /** The sandbox environment (`# environment:`; default python): python-data has numpy, pandas, matplotlib. */
  environment: Environment;
  /** Status with the policy layer on. */
  expectOn: RunStatus[];
  /** Statuses accepted with the layer off: the floor alone decides; the host must not notice either way. */
  expectFloor: RunStatus[] | 'any';
  /** Text that must never appear in the output of either pass. */
  never: string[];
  /** Text that must not appear with the policy layer on (e.g. code after a refused action ran). */
  neverOn: string[];
  /** Time limit for the case (default 1000 ms; DATA_TIME_MS in python-data). */
  timeMs: number;
}

/**
 * python-data cases run library code (and the figure capture at exit) that a loaded machine can push
 * past 2 s: 149-backend-pdf (250 ms idle: the PDF backend is not preloaded) took longer than 2 s in
 * a CI run with eight cases at once on two cores. The statuses, not the time, are the point; the
 * hostile stack raises its maximum to the largest case's limit.
 */
const DATA_TIME_MS = 5000;

const DIR = fileURLToPath(new URL('./cases/', import.meta.url));
const HEADER = /^# (expect|floor|policy|environment|never|never-on|time_ms): (.*)\n/;

function statuses(raw: string, file: string): RunStatus[] {
  const list = raw.trim().split(/\s+/);
  for (const s of list)
    if (!(RUN_STATUSES as readonly string[]).includes(s)) throw new Error(`${file}: unknown status ${s}`);
  return list as RunStatus[];
}

/** Reads test/hostile/cases/*.py. Header lines are stripped, so a coding cookie can be line 1 of what runs. */
export function loadCorpus(): HostileCase[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.py'))
    .sort()
    .map((file) => {
      let text = readFileSync(DIR + file, 'utf8');
      const meta: Record<string, string[]> = {};
      for (let m = HEADER.exec(text); m; m = HEADER.exec(text)) {
        const [line, key, value] = m as unknown as [string, string, string];
        meta[key] = [...(meta[key] ?? []), value];
        text = text.slice(line.length);
      }
      const expect = meta.expect?.[0];
      const floor = meta.floor?.[0];
      if (!expect || !floor) throw new Error(`${file}: needs "# expect:" and "# floor:" headers`);
      const environment = (meta.environment?.[0]?.trim() ?? DEFAULT_ENVIRONMENT) as Environment;
      if (!ENVIRONMENTS.includes(environment)) throw new Error(`${file}: unknown environment ${environment}`);
      return {
        name: file.replace(/\.py$/, ''),
        code: text,
        policy: meta.policy?.[0] === 'standard' ? 'standard' : 'strict',
        environment,
        expectOn: statuses(expect, file),
        expectFloor: floor.trim() === 'any' ? 'any' : statuses(floor, file),
        never: meta.never ?? [],
        neverOn: meta['never-on'] ?? [],
        timeMs: Number(meta.time_ms?.[0] ?? (environment === 'python' ? 1000 : DATA_TIME_MS)),
      } satisfies HostileCase;
    });
}
