import {
  type ApiConfig,
  COMPARATORS,
  defaultEnvironment,
  MAX_ARG_CHARS,
  MAX_ARGS,
  RUNTIME,
  type ServiceInfo,
  type Tenant,
  type WorkerHealth,
} from '@sbx/shared';
import { defaultPolicy, environmentsFor, tenantLimits, type ValidationConfig } from './job-validation.js';
import { environmentsOf, runtimesOf } from './workers.js';

export type ServiceInfoConfig = ValidationConfig &
  Pick<
    ApiConfig,
    'maxOutputBytes' | 'maxArtifacts' | 'maxArtifactBytes' | 'maxQueued' | 'stdinMaxCallBytes' | 'stdinMaxBytes'
  >;

/**
 * What GET /info tells a tenant: the same bounds job-validation.ts enforces on its jobs, and what the
 * live `workers` run on.
 */
export function describeService(
  config: ServiceInfoConfig,
  tenant: Tenant,
  workers: { health: WorkerHealth | null }[],
): ServiceInfo {
  const b = tenantLimits(config, tenant);
  return {
    runtime: { ...RUNTIME },
    sandbox: runtimesOf(workers),
    limits: {
      time_ms: { default: b.defaultTimeMs, max: b.maxTimeMs },
      memory_mb: { default: b.defaultMemoryMb, min: b.minMemoryMb, max: b.maxMemoryMb },
      code_bytes: config.maxCodeBytes,
      input_bytes: config.maxStdinBytes,
      output_bytes: config.maxOutputBytes,
      tests: config.maxTests,
      artifacts: config.maxArtifacts,
      artifact_bytes: config.maxArtifactBytes,
      args: MAX_ARGS,
      arg_chars: MAX_ARG_CHARS,
      queued: tenant.maxQueued,
      queued_total: config.maxQueued,
      running: tenant.maxRunning,
      stored_bytes: tenant.maxStoredBytes,
      interactive: {
        wall_ms: config.interactiveWallMs,
        idle_input_ms: config.interactiveIdleMs,
        max_input_call_bytes: config.stdinMaxCallBytes,
        max_input_bytes: config.stdinMaxBytes,
      },
    },
    lanes: [...tenant.lanes],
    weight: tenant.weight,
    environments: environmentsOf(workers, environmentsFor(config, tenant), defaultEnvironment(config)),
    policies: [...config.allowedPolicies],
    default_policy: defaultPolicy(config.allowedPolicies),
    comparators: [...COMPARATORS],
  };
}
