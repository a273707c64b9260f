/**
 * Removes used sandboxes between jobs rather than during them: a gVisor teardown costs about
 * 0.15 s of CPU that a running job would feel. While the worker is busy, up to `maxPending` wait;
 * past that the oldest goes at once, so memory held by finished sandboxes stays bounded.
 */
export class DeferredDisposer {
  private readonly pending: (() => Promise<void>)[] = [];
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly opts: { maxPending: number; busy: () => boolean; onError: (err: unknown) => void }) {}

  add(dispose: () => Promise<void>): void {
    this.pending.push(dispose);
    while (this.pending.length > this.opts.maxPending) this.startOldest();
    if (!this.opts.busy()) this.flush();
  }

  /** Disposes of everything waiting: the worker has gone idle. */
  flush(): void {
    while (this.pending.length) this.startOldest();
  }

  get waiting(): number {
    return this.pending.length;
  }

  /** Everything disposed of, for shutdown. */
  async settle(): Promise<void> {
    this.flush();
    await Promise.allSettled([...this.inFlight]);
  }

  private startOldest(): void {
    const dispose = this.pending.shift();
    if (!dispose) return;
    const disposal = dispose().catch(this.opts.onError);
    this.inFlight.add(disposal);
    void disposal.finally(() => this.inFlight.delete(disposal));
  }
}
