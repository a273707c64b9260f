/** How a test's stdout is compared with its expected output. */
export const COMPARATORS = ['exact', 'trailing_whitespace', 'float'] as const;
export type Comparator = (typeof COMPARATORS)[number];

export interface CompareOptions {
  comparator: Comparator;
  /** For `float`: numbers match when |a - b| <= tolerance * max(1, |b|). */
  floatTolerance: number;
}

/** Drops trailing whitespace on every line and trailing empty lines: what graders almost always mean. */
function normaliseTrailing(text: string): string[] {
  const lines = text
    .replace(/\r\n/g, '\n')
    .split('\n')
    .map((l) => l.trimEnd());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^[-+]?(inf|infinity|nan)$/i;

function tokensMatch(actual: string, expected: string, tolerance: number): boolean {
  if (actual === expected) return true;
  if (!NUMBER.test(actual) || !NUMBER.test(expected)) return false;
  const a = Number.parseFloat(actual.replace(/infinity|inf/i, 'Infinity'));
  const b = Number.parseFloat(expected.replace(/infinity|inf/i, 'Infinity'));
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a === b;
  return Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(b));
}

/** True when `actual` is an accepted answer for `expected`. */
export function outputMatches(actual: string, expected: string, opts: CompareOptions): boolean {
  switch (opts.comparator) {
    case 'exact':
      return actual === expected;
    case 'trailing_whitespace': {
      const a = normaliseTrailing(actual);
      const e = normaliseTrailing(expected);
      return a.length === e.length && a.every((line, i) => line === e[i]);
    }
    case 'float': {
      const a = actual.split(/\s+/).filter(Boolean);
      const e = expected.split(/\s+/).filter(Boolean);
      return a.length === e.length && a.every((tok, i) => tokensMatch(tok, e[i] ?? '', opts.floatTolerance));
    }
  }
}
