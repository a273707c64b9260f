/** When to try a failed delivery again: pure functions, so the schedule is testable without a queue. */

export interface RetrySchedule {
  /** Ceiling of the first retry's delay; each later retry doubles it. */
  baseDelayMs: number;
  /** No retry waits longer than this, whatever the exponent or the receiver asks for. */
  maxDelayMs: number;
}

/**
 * Reads a `Retry-After` header: delay-seconds (`120`) or an HTTP date. Returns milliseconds from
 * `nowMs` (0 when the date has passed), or null when absent or unreadable. Digits are handled before
 * `Date.parse` because that parser would take `1` for the year 2001.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number = Date.now()): number | null {
  if (value == null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // HTTP dates always name a weekday or month; insisting on a letter keeps "1.5" or "-3" out.
  if (!/[A-Za-z]/.test(text)) return null;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - nowMs);
}

/**
 * Exponential backoff with full jitter: a uniform delay in [0, min(max, base * 2^(attempt-1))].
 * Full jitter spreads the retries of many deliveries that failed together (a receiver outage)
 * instead of bringing them back in synchronised waves. `attempt` is 1 for the first retry.
 */
export function backoffDelayMs(attempt: number, schedule: RetrySchedule, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 52);
  const ceiling = Math.min(schedule.maxDelayMs, schedule.baseDelayMs * 2 ** exponent);
  return Math.floor(random() * ceiling);
}

/**
 * The delay before the next try: what the receiver asked for in `Retry-After` when it said so
 * (capped at `maxDelayMs`, so a receiver cannot park a delivery beyond our own schedule), the
 * jittered backoff otherwise.
 */
export function retryDelayMs(
  attempt: number,
  retryAfterMs: number | null,
  schedule: RetrySchedule,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== null) return Math.min(Math.max(0, retryAfterMs), schedule.maxDelayMs);
  return backoffDelayMs(attempt, schedule, random);
}
