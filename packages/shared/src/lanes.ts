/**
 * Lanes: `interactive` is for a caller who waits (POST /run), `batch` for work that is polled or
 * called back (POST /jobs, /jobs/batch). Interactive work is taken first; batch work is never
 * starved (fair-queue.ts). Ordered as they are served.
 */
export const LANES = ['interactive', 'batch'] as const;
export type Lane = (typeof LANES)[number];

export const isLane = (value: unknown): value is Lane => (LANES as readonly unknown[]).includes(value);

/** The lane a route puts a job in when the request names none. */
export const DEFAULT_LANE = { run: 'interactive', jobs: 'batch' } as const satisfies Record<string, Lane>;

/**
 * The lane a job goes in: the one it asks for, which must be one the tenant may use; else the
 * route's default, or the tenant's other lane when it may not use that one. Null: the lane asked
 * for is not allowed.
 */
export function resolveLane(asked: Lane | undefined, routeDefault: Lane, allowed: readonly Lane[]): Lane | null {
  if (asked) return allowed.includes(asked) ? asked : null;
  if (allowed.includes(routeDefault)) return routeDefault;
  return allowed[0] ?? null;
}
