import type { ApiConfig } from './config.js';
import { ApiError } from './errors.js';
import type { Limits } from './schemas.js';

export type ResolvedLimits = { time_ms: number; memory_mb: number };

/** Applies defaults and refuses anything above the configured maxima, naming the maximum. */
export function resolveLimits(
  requested: Limits | undefined,
  config: Pick<ApiConfig, 'defaultTimeMs' | 'maxTimeMs' | 'defaultMemoryMb' | 'maxMemoryMb' | 'minMemoryMb'>,
): ResolvedLimits {
  const time_ms = requested?.time_ms ?? config.defaultTimeMs;
  const memory_mb = requested?.memory_mb ?? config.defaultMemoryMb;
  if (time_ms > config.maxTimeMs)
    throw new ApiError('limit_exceeded', `limits.time_ms is ${time_ms}; the maximum is ${config.maxTimeMs}`, {
      field: 'limits.time_ms',
      maximum: config.maxTimeMs,
    });
  if (memory_mb > config.maxMemoryMb)
    throw new ApiError('limit_exceeded', `limits.memory_mb is ${memory_mb}; the maximum is ${config.maxMemoryMb}`, {
      field: 'limits.memory_mb',
      maximum: config.maxMemoryMb,
    });
  if (memory_mb < config.minMemoryMb)
    throw new ApiError('limit_exceeded', `limits.memory_mb is ${memory_mb}; the minimum is ${config.minMemoryMb}`, {
      field: 'limits.memory_mb',
      minimum: config.minMemoryMb,
    });
  return { time_ms, memory_mb };
}
