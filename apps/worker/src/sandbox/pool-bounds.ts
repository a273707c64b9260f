import { ENVIRONMENT_SPECS, type Environment, type WorkerConfig } from '@sbx/shared';

export interface PoolBounds {
  /** Idle sandboxes kept however quiet it is. */
  min: number;
  /** Most kept ready or starting however high demand goes. */
  max: number;
}

/**
 * An environment's warm pool floor and ceiling: SBX_POOL_MAX, and no more sandboxes than its memory
 * budget holds at what one idle sandbox of it costs; the floor never above the ceiling. A python-data
 * sandbox holds five times a plain one's memory, so one SBX_POOL_MAX cannot suit both.
 */
export function poolBounds(config: Pick<WorkerConfig, 'poolMax' | 'sandboxes'>, environment: Environment): PoolBounds {
  const { poolMin, poolMemoryMb } = config.sandboxes[environment];
  const max = Math.min(config.poolMax, Math.floor(poolMemoryMb / ENVIRONMENT_SPECS[environment].idleMb));
  return { min: Math.min(poolMin, max), max };
}
