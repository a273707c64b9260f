import { RUNTIME, type Tenant } from '@sbx/shared';
import type { JobService } from '../../services/jobs.js';

/**
 * The Judge0 ids that mean Python 3: 71 in Judge0 CE 1.13.1, and those the hosted Judge0 added for
 * later Pythons. Each runs our one Python, and each says so in its name.
 */
export const PYTHON_IDS = [71, 92, 100, 109, 113] as const;

export interface Judge0Language {
  id: number;
  name: string;
  is_archived: boolean;
  source_file: string;
  compile_cmd: null;
  run_cmd: string;
}

export function judge0Language(id: number, pythonVersion: string = RUNTIME.version): Judge0Language | null {
  if (!(PYTHON_IDS as readonly number[]).includes(id)) return null;
  return {
    id,
    name: `Python (${pythonVersion})`,
    is_archived: false,
    source_file: 'main.py',
    compile_cmd: null,
    run_cmd: 'python3 main.py',
  };
}

export const judge0Languages = (pythonVersion?: string): Judge0Language[] =>
  PYTHON_IDS.map((id) => judge0Language(id, pythonVersion) as Judge0Language);

/** The Python a live worker found in the default environment's image; the minor version before any has. */
export async function livePythonVersion(jobs: Pick<JobService, 'info'>, tenant: Tenant): Promise<string> {
  const info = await jobs.info(tenant);
  return info.environments.find((e) => e.default)?.versions?.python ?? info.runtime.version;
}
