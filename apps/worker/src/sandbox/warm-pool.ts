import type { ResolvedLimits } from '@sbx/shared';
import type { Sandbox, SandboxRunner } from './types.js';

export interface WarmPoolOptions {
  /** Idle sandboxes kept started ahead of demand. */
  size: number;
  /** The limits pooled sandboxes are created with: exactly what a cold one for a default job gets. */
  limits: ResolvedLimits;
  /** Wait before retrying after a sandbox failed to start. */
  retryDelayMs?: number;
  onError?: (err: unknown) => void;
  /** Told whether each acquisition was served warm (hit) or cold (miss). */
  onAcquire?: (outcome: 'hit' | 'miss') => void;
}

/**
 * Started sandboxes with the harness already waiting for its frame. A job takes one whose limits
 * match and the pool starts a replacement in the background; a sandbox is still used exactly once
 * and disposed after. Jobs with other limits, or an empty pool, get a cold sandbox.
 */
export class WarmPoolRunner implements SandboxRunner {
  private readonly idle: Sandbox[] = [];
  private starting = 0;
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;
  hits = 0;
  misses = 0;

  constructor(
    private readonly cold: SandboxRunner,
    private readonly opts: WarmPoolOptions,
  ) {}

  get idleCount(): number {
    return this.idle.length;
  }

  start(): void {
    this.fill();
  }

  async acquire(limits: ResolvedLimits, labels: { jobId: string }): Promise<Sandbox> {
    const fits = limits.memory_mb === this.opts.limits.memory_mb;
    const warm = fits && !this.closed ? this.idle.shift() : undefined;
    if (warm) {
      this.hits += 1;
      this.opts.onAcquire?.('hit');
      this.fill();
      warm.warm = true;
      return warm;
    }
    this.misses += 1;
    this.opts.onAcquire?.('miss');
    return this.cold.acquire(limits, labels);
  }

  private fill(): void {
    while (!this.closed && this.idle.length + this.starting < this.opts.size) {
      this.starting += 1;
      const started = this.cold
        .acquire(this.opts.limits, { jobId: 'warm-pool' })
        .then((sandbox) => {
          this.starting -= 1;
          if (this.closed) return sandbox.dispose();
          this.idle.push(sandbox);
          // An idle sandbox that dies (OOM, a daemon restart) is dropped and replaced.
          void sandbox.whenExited().then(() => {
            const at = this.idle.indexOf(sandbox);
            if (at < 0) return;
            this.idle.splice(at, 1);
            sandbox.dispose().catch(this.opts.onError);
            this.fill();
          });
        })
        .catch((err: unknown) => {
          this.starting -= 1;
          this.opts.onError?.(err);
          if (!this.closed) setTimeout(() => this.fill(), this.opts.retryDelayMs ?? 1000).unref();
        });
      this.inFlight.add(started);
      void started.finally(() => this.inFlight.delete(started));
    }
  }

  /** Stops refilling and disposes of every idle sandbox. */
  async drain(): Promise<void> {
    this.closed = true;
    // Sandboxes still starting dispose of themselves once up (closed is set): wait for them too.
    await Promise.allSettled([...this.inFlight]);
    await Promise.allSettled(this.idle.splice(0).map((s) => s.dispose()));
  }
}
