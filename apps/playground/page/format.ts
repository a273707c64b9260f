/** How the page words and colours what the API reports. Pure: unit-tested in test/unit/playground.test.ts. */
import type { RunStatus, TestVerdict } from './wire.js';

/** good: green, bad: red, warn: amber, info: blue, neutral: grey. */
export type Tone = 'good' | 'bad' | 'warn' | 'info' | 'neutral';

const STATUS_LABELS: Record<RunStatus, [string, Tone]> = {
  ok: ['OK', 'good'],
  runtime_error: ['Runtime error', 'bad'],
  timeout: ['Time limit', 'warn'],
  memory_limit: ['Memory limit', 'warn'],
  output_limit: ['Output limit', 'warn'],
  security_violation: ['Blocked', 'bad'],
  internal_error: ['Internal error', 'neutral'],
  cancelled: ['Stopped', 'neutral'],
};

export function statusLabel(status: RunStatus): { label: string; tone: Tone } {
  const [label, tone] = STATUS_LABELS[status] ?? [status, 'neutral'];
  return { label, tone };
}

export function verdictLabel(verdict: TestVerdict): { label: string; tone: Tone } {
  if (verdict === 'accepted') return { label: 'Accepted', tone: 'good' };
  if (verdict === 'wrong_answer') return { label: 'Wrong answer', tone: 'bad' };
  if (verdict === 'skipped') return { label: 'Skipped', tone: 'neutral' };
  return statusLabel(verdict);
}

/** Seconds as a person reads them: `12 ms`, `1.24 s`, `61 s`. */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(2)} s`;
  return `${Math.round(seconds)} s`;
}

/** Peak memory from `memory_kb`: `840 KiB`, `12.3 MiB`; a dash when the run reported none. */
export function formatMemory(kb: number | null | undefined): string {
  if (kb === null || kb === undefined || !Number.isFinite(kb)) return '—';
  if (kb < 1024) return `${Math.round(kb)} KiB`;
  const mib = kb / 1024;
  return `${mib < 100 ? mib.toFixed(1) : Math.round(mib)} MiB`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** UTF-8 bytes of a string: the unit of the stdin offsets. */
export function utf8Length(text: string): number {
  return new TextEncoder().encode(text).byteLength;
}

/** A queued job's place, as the badge says it. */
export function queuedLabel(position: number | null | undefined, etaSeconds: number | null | undefined): string {
  if (position === null || position === undefined) return 'Queued';
  const ahead = position === 0 ? 'next' : `${position} ahead`;
  const eta = etaSeconds === null || etaSeconds === undefined ? '' : ` · ~${formatSeconds(etaSeconds)}`;
  return `Queued · ${ahead}${eta}`;
}

/** base64 (an output chunk of a base64 job) to text, bytes that are not UTF-8 shown as U+FFFD. */
export function base64Text(base64: string): string {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}

/** Splits text into pieces of at most `maxBytes` UTF-8 bytes each, never inside a character. */
export function splitUtf8(text: string, maxBytes: number): string[] {
  if (maxBytes < 4) throw new Error('maxBytes must hold any one character (4 bytes)');
  const pieces: string[] = [];
  let piece = '';
  let bytes = 0;
  for (const char of text) {
    const size = utf8Length(char);
    if (bytes + size > maxBytes) {
      pieces.push(piece);
      piece = '';
      bytes = 0;
    }
    piece += char;
    bytes += size;
  }
  if (piece) pieces.push(piece);
  return pieces;
}
