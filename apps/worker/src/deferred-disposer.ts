export interface DeferredDisposerOptions {
  /** Used sandboxes that may wait while the worker is busy; past that the oldest goes at once. */
  maxPending: number;
  /**
   * The longest a used sandbox waits for the worker to go quiet, in ms. Default 2000. Measured under
   * runsc 20240729 (systrap) on two cores: an idle sandbox costs about 2.3% of a core for as long as
   * it lives, and its teardown about 0.15 s of CPU, so waiting past some 6 s costs more than it saves.
   * Under a sustained burst the worker is never quiet and, without this bound, `maxPending` sandboxes
   * per worker sat alive for good.
   */
  maxWaitMs?: number;
  busy: () => boolean;
  onError: (err: unknown) => void;
}

interface Pending {
  dispose: () => Promise<void>;
  timer: NodeJS.Timeout;
}

/**
 * Removes used sandboxes between jobs rather than during them: a gVisor teardown costs about
 * 0.15 s of CPU that a running job would feel. While the worker is busy, up to `maxPending` wait,
 * each for at most `maxWaitMs`; past either bound it goes at once, so memory and CPU held by
 * finished sandboxes stay bounded.
 */
export class DeferredDisposer {
  private readonly pending: Pending[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly maxWaitMs: number;

  constructor(private readonly opts: DeferredDisposerOptions) {
    this.maxWaitMs = opts.maxWaitMs ?? 2000;
  }

  add(dispose: () => Promise<void>): void {
    const entry: Pending = {
      dispose,
      timer: setTimeout(() => this.start(entry), this.maxWaitMs),
    };
    entry.timer.unref();
    this.pending.push(entry);
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
    const oldest = this.pending[0];
    if (oldest) this.start(oldest);
  }

  private start(entry: Pending): void {
    const at = this.pending.indexOf(entry);
    if (at < 0) return;
    this.pending.splice(at, 1);
    clearTimeout(entry.timer);
    const disposal = entry.dispose().catch(this.opts.onError);
    this.inFlight.add(disposal);
    void disposal.finally(() => this.inFlight.delete(disposal));
  }
}
