/** Percentiles over small samples, the way the bench reports them. */

export interface Spread {
  n: number;
  p50: number;
  p95: number;
  p99: number;
}

/**
 * Nearest-rank percentile: always one of the samples, never an interpolation. With fewer than 100
 * samples p99 is the largest one, which is what a reader of a 50-run p99 should expect.
 */
export function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] ?? Number.NaN;
}

export function spread(samples: readonly number[]): Spread {
  return {
    n: samples.length,
    p50: percentile(samples, 50),
    p95: percentile(samples, 95),
    p99: percentile(samples, 99),
  };
}

export const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
export const mean = (xs: readonly number[]) => (xs.length ? sum(xs) / xs.length : Number.NaN);
