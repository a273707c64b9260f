import type { ApiConfig, Tenant } from '@sbx/shared';
import { tenantLimits } from '../../services/job-validation.js';

export type Judge0LimitsConfig = Pick<
  ApiConfig,
  'defaultTimeMs' | 'maxTimeMs' | 'defaultMemoryMb' | 'maxMemoryMb' | 'minMemoryMb' | 'maxOutputBytes'
>;

/** One numeric Judge0 setting: its default, and the bounds a submission's value must meet. */
export interface Judge0Bound {
  def: number;
  min: number;
  /** Judge0 says "greater than" for some minimums, "greater than or equal to" for others. */
  minExclusive?: boolean;
  max: number;
  /** Decimal columns (seconds) are written "2.0" in Judge0's messages and answers. */
  decimal?: boolean;
}

export type Judge0Bounds = Record<
  | 'cpu_time_limit'
  | 'cpu_extra_time'
  | 'wall_time_limit'
  | 'memory_limit'
  | 'stack_limit'
  | 'max_processes_and_or_threads'
  | 'max_file_size'
  | 'number_of_runs',
  Judge0Bound
>;

/**
 * Judge0's limits in its units (seconds, KB) from ours, the tenant's maxima applied. Our one time
 * limit is wall-clock: Judge0's CPU and wall limits both map to it. Our output cap is its file size
 * limit (a program over it is stopped, as Judge0's SIGXFSZ). Stack and processes are not set per job
 * here: Judge0's own bounds are kept so its clients' values pass, and docs/compat.md says they are
 * not applied.
 */
export function judge0Bounds(
  config: Judge0LimitsConfig,
  tenant: Pick<Tenant, 'maxTimeMs' | 'maxMemoryMb'>,
): Judge0Bounds {
  const ours = tenantLimits(config, tenant);
  const outputKb = Math.floor(config.maxOutputBytes / 1024);
  const seconds = { def: ours.defaultTimeMs / 1000, max: ours.maxTimeMs / 1000, decimal: true };
  return {
    cpu_time_limit: { ...seconds, min: 0 },
    cpu_extra_time: { def: 0, min: 0, max: 0, decimal: true },
    wall_time_limit: { ...seconds, min: Math.min(1, seconds.max) },
    memory_limit: { def: ours.defaultMemoryMb * 1024, min: ours.minMemoryMb * 1024, max: ours.maxMemoryMb * 1024 },
    stack_limit: { def: 64000, min: 0, max: 128000 },
    max_processes_and_or_threads: { def: 60, min: 0, minExclusive: true, max: 120 },
    max_file_size: { def: outputKb, min: 0, max: outputKb },
    number_of_runs: { def: 1, min: 0, minExclusive: true, max: 1 },
  };
}

/** A number as Ruby prints it: decimals always with a point ("2.0"), integers without. */
export function rubyNumber(value: number, decimal = false): string {
  if (!decimal) return String(value);
  return Number.isInteger(value) ? `${value}.0` : String(value);
}
