/**
 * When the worker may do what it put off while jobs ran: removing used sandboxes, refilling and
 * trimming the warm pool. Not while a job runs, and not within `quietMs` of the last one ending
 * either: back-to-back requests leave gaps of a few milliseconds, and a removal (about 0.15 CPU-s)
 * or a sandbox start (about 1 CPU-s, much of it in Docker's daemons, outside any sandbox's CPU
 * weight) begun in such a gap slows the job that follows. Measured on 2 cores: a warm
 * `print(2 + 2)` took about 90 ms p50 with nothing in the background, about 170 ms back to back.
 */
export class QuietPeriod {
  private running = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: { quietMs: number; onQuiet: () => void }) {}

  /** A job runs, or one ended less than `quietMs` ago. */
  busy(): boolean {
    return this.running > 0 || this.timer !== undefined;
  }

  jobStarted(): void {
    this.running += 1;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  jobEnded(): void {
    this.running = Math.max(0, this.running - 1);
    if (this.running > 0) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.opts.onQuiet();
    }, this.opts.quietMs);
    this.timer.unref();
  }

  /** No callback after this: the worker is shutting down and settles what is pending itself. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
