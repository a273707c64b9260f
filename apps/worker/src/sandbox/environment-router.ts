import type { Environment } from '@sbx/shared';
import { environmentOf, type SandboxSpec } from './container-spec.js';
import type { Sandbox, SandboxRunner } from './types.js';

/** This worker has no image for the environment a job asks for: retried, on another worker with luck. */
export class EnvironmentUnavailableError extends Error {
  readonly code = 'environment_unavailable';
  constructor(environment: Environment, workerId: string) {
    super(`environment ${environment} is not built on worker ${workerId}`);
    this.name = 'EnvironmentUnavailableError';
  }
}

/**
 * Sends each acquire to its environment's runner (a warm pool per environment, each with its own
 * floor), and refuses environments whose image this worker does not have.
 */
export class EnvironmentRouter implements SandboxRunner {
  constructor(
    private readonly runners: Partial<Record<Environment, SandboxRunner>>,
    private readonly available: () => ReadonlySet<Environment>,
    private readonly workerId: string,
  ) {}

  acquire(spec: SandboxSpec, labels: Parameters<SandboxRunner['acquire']>[1]): Promise<Sandbox> {
    const environment = environmentOf(spec);
    const runner = this.runners[environment];
    if (!runner || !this.available().has(environment))
      return Promise.reject(new EnvironmentUnavailableError(environment, this.workerId));
    return runner.acquire(spec, labels);
  }
}
