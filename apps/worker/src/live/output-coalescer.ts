/** Which of the program's streams a piece of output came on. */
export type OutputStream = 'stdout' | 'stderr';

/** Consecutive output of one stream (and one test), in order. */
export interface Segment<P> {
  stream: OutputStream;
  test: number | undefined;
  pieces: P[];
}

/** Runs `fn` after `ms`; returns its cancel. Injected so tests need no real clock. */
export type Schedule = (fn: () => void, ms: number) => () => void;

export const realSchedule: Schedule = (fn, ms) => {
  const timer = setTimeout(fn, ms);
  return () => clearTimeout(timer);
};

export interface CoalescerOptions<P> {
  /** Handed each batch of segments, in order. */
  flush: (segments: Segment<P>[]) => void;
  /** How long output is gathered after a flush before the next one. */
  windowMs: number;
  /** Pending bytes that flush at once, window or not. */
  flushBytes: number;
  /**
   * Segments one flush may carry: past it, each stream's (and test's) output of the window is merged
   * into one segment, so a program alternating stdout and stderr cannot make an event per write.
   */
  maxSegments: number;
  schedule?: Schedule;
}

/**
 * Gathers a run's output into few events without delaying the first: output after a quiet spell is
 * flushed at once (first-byte latency), output that follows within `windowMs` waits for the window's
 * end (a program printing 100k lines makes one event per window, not one per line).
 */
export class OutputCoalescer<P> {
  private pending: Segment<P>[] = [];
  private pendingBytes = 0;
  /** Cancels the open window's timer; null while quiet. */
  private window: (() => void) | null = null;
  private readonly schedule: Schedule;

  constructor(private readonly opts: CoalescerOptions<P>) {
    this.schedule = opts.schedule ?? realSchedule;
  }

  push(stream: OutputStream, test: number | undefined, piece: P, bytes: number): void {
    const last = this.pending.at(-1);
    if (last && last.stream === stream && last.test === test) last.pieces.push(piece);
    else this.pending.push({ stream, test, pieces: [piece] });
    this.pendingBytes += bytes;
    if (this.window === null || this.pendingBytes >= this.opts.flushBytes) this.flushNow();
  }

  /** Flushes what is pending and stops the window: the run is over (or cut). */
  end(): void {
    this.window?.();
    this.window = null;
    this.emit();
  }

  private flushNow(): void {
    this.emit();
    this.window?.();
    this.window = this.schedule(() => this.onWindowEnd(), this.opts.windowMs);
  }

  private onWindowEnd(): void {
    this.window = null;
    // Output in the window: flush it and keep gathering; none: quiet again, the next is sent at once.
    if (this.pending.length > 0) this.flushNow();
  }

  private emit(): void {
    if (this.pending.length === 0) return;
    const segments = this.pending.length > this.opts.maxSegments ? mergeByStream(this.pending) : this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    this.opts.flush(segments);
  }
}

/** One segment per stream and test, in the order each first appeared; each one's pieces in order. */
export function mergeByStream<P>(segments: Segment<P>[]): Segment<P>[] {
  const merged = new Map<string, Segment<P>>();
  for (const s of segments) {
    const key = `${s.stream}:${s.test ?? ''}`;
    const into = merged.get(key);
    if (into) into.pieces.push(...s.pieces);
    else merged.set(key, { stream: s.stream, test: s.test, pieces: [...s.pieces] });
  }
  return [...merged.values()];
}
