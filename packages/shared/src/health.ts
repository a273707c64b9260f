import type { Environment } from './environments.js';
import type { SandboxRuntime } from './schemas.js';

/** A worker's start-up self-check, as the worker stores it in Redis (`workerHealth`) and the API reads it. */
export interface WorkerHealth {
  ok: boolean;
  failures: { check: string; detail: string }[];
  checked_at: string;
  /** True when SBX_SELF_CHECK=off: nothing was checked, the worker takes jobs regardless. */
  skipped?: boolean;
  /** The runtime the worker found; null when it could not be inspected. */
  runtime: SandboxRuntime | null;
  /** Environments whose image this worker found, with the versions the image reported (python, numpy, ...). */
  environments?: { name: Environment; versions: Record<string, string> | null }[];
  /** Set while the worker's Docker engine does not answer: it takes no jobs then. */
  docker_unreachable?: boolean;
}
