/** How the bench's reports write figures and tables. */

export const ms = (s: number) => (Number.isNaN(s) ? 'n/a' : `${(s * 1000).toFixed(s < 0.01 ? 1 : 0)} ms`);
export const ratio = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : 'n/a');
export const mark = (ok: boolean) => (ok ? '✓ pass' : '✗ miss');

/** A Markdown table, its columns padded to line up in the source too. */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const width = header.map((_, i) => Math.max(3, ...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(width[i] ?? 0)).join(' | ')} |`;
  return [line(header), `| ${width.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}
