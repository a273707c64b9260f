import { environmentOf, type SandboxSpec } from './container-spec.js';
import { StartTicket } from './cpu-priority.js';
import type { AcquireLabels, Sandbox, SandboxRunner } from './types.js';

export const POOL_OUTCOMES = ['hit', 'wait', 'miss'] as const;
export type PoolOutcome = (typeof POOL_OUTCOMES)[number];

export interface WarmPoolOptions {
  /** Floor: idle sandboxes kept ready even when no job has come for a while. */
  min: number;
  /** Ceiling: most sandboxes kept ready or starting, however high demand goes. */
  max: number;
  /** The limits pooled sandboxes are created with: exactly what a cold one for a default job gets. */
  limits: SandboxSpec;
  /**
   * Sandboxes started at once to refill the pool. A start costs 0.3-1 CPU-seconds, by machine: more at
   * once only slows the jobs that are running. Default 1.
   */
  maxStarting?: number;
  /**
   * Shortfall is the jobs in this window that found no sandbox ready; the pool's target is floor +
   * shortfall, up to the ceiling. Default 60 s.
   */
  demandWindowMs?: number;
  /**
   * Whether the worker wants its CPU for jobs now. While it does, the pool refills only when it has
   * nothing idle or starting, and retires nothing: a start's Docker and gVisor work outside the
   * sandbox's cgroup slows a running job (a 20-test job by a third) whatever the sandbox's own CPU
   * weight, and so does a removal. Call `refill()` when that ends.
   */
  busy?: () => boolean;
  /** How often idle sandboxes above the target are retired. Default 5 s. */
  trimIntervalMs?: number;
  /** Wait before retrying after a sandbox failed to start. Default 1 s. */
  retryDelayMs?: number;
  onError?: (err: unknown) => void;
  /** Told how each acquisition was served: hit (ready), wait (joined a start in progress), miss (cold). */
  onAcquire?: (outcome: PoolOutcome) => void;
  /** Told whenever the pool's size or target changes. */
  onSize?: (size: { idle: number; starting: number; target: number }) => void;
}

/**
 * Started sandboxes with the harness already waiting for its job. A job takes one whose limits
 * match and the pool starts a replacement in the background; a sandbox is still used exactly once
 * and disposed after. Refills start at the lowest CPU weight, so they only use CPU no running job
 * wants; a job raises its sandbox to the normal weight.
 *
 * The pool follows demand between a floor and a ceiling: each job that finds nothing ready raises
 * the target by one for a minute, so steady traffic the floor already serves holds no more
 * sandboxes than the floor, while a burst leaves stock for the next one. Jobs with other limits,
 * or arriving when nothing is ready or starting, get a cold sandbox.
 */
export class WarmPoolRunner implements SandboxRunner {
  private readonly idle: Sandbox[] = [];
  private starting = 0;
  /** Jobs promised the next sandbox to finish starting: urgent ones first, each kind in arrival order. */
  private readonly waiters: { urgent: boolean; resolve: (sandbox: Sandbox | Error) => void }[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly tickets = new Set<StartTicket>();
  /** When jobs found nothing ready: the pool grows by what it lacked, not by traffic it already serves. */
  private readonly shortfalls: number[] = [];
  private trimTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly cold: SandboxRunner,
    private readonly opts: WarmPoolOptions,
  ) {
    if (opts.min < 0 || opts.max < opts.min) throw new RangeError('warm pool: need 0 <= min <= max');
  }

  get idleCount(): number {
    return this.idle.length;
  }

  /** Floor plus recent shortfall, up to the ceiling. */
  get target(): number {
    const window = this.opts.demandWindowMs ?? 60_000;
    const since = performance.now() - window;
    while ((this.shortfalls[0] ?? Number.POSITIVE_INFINITY) < since) this.shortfalls.shift();
    return Math.min(this.opts.max, this.opts.min + this.shortfalls.length);
  }

  start(): void {
    this.trimTimer = setInterval(() => this.trim(), this.opts.trimIntervalMs ?? 5000);
    this.trimTimer.unref();
    this.fill();
  }

  async acquire(limits: SandboxSpec, labels: AcquireLabels): Promise<Sandbox> {
    const fits =
      !this.closed &&
      limits.memory_mb === this.opts.limits.memory_mb &&
      environmentOf(limits) === environmentOf(this.opts.limits);
    if (!fits) {
      this.opts.onAcquire?.('miss');
      return this.cold.acquire(limits, labels);
    }
    const ready = this.idle.shift();
    if (ready) {
      this.fill();
      try {
        await ready.prioritize();
        this.opts.onAcquire?.('hit');
        ready.warm = true;
        return ready;
      } catch (err) {
        // It would run on the idle cap: not this one. The job starts cold instead.
        this.opts.onError?.(err);
        ready.dispose().catch(this.opts.onError);
        this.opts.onAcquire?.('miss');
        return this.cold.acquire(limits, labels);
      }
    }
    this.shortfalls.push(performance.now());
    // A start already under way finishes sooner than a new one would: join it. An urgent job takes
    // the place of a job that is not; that one then waits for the start after.
    const urgent = labels.urgent === true;
    const ahead = urgent ? this.waiters.filter((w) => w.urgent).length : this.waiters.length;
    if (this.starting > ahead) {
      this.opts.onAcquire?.('wait');
      // A job waits on these now: they run at the default CPU weight from here on.
      for (const ticket of this.tickets) ticket.raise();
      const joined = new Promise<Sandbox | Error>((resolve) => this.waiters.splice(ahead, 0, { urgent, resolve }));
      this.fill();
      const got = await joined;
      if (!(got instanceof Error)) {
        await got.prioritize();
        return got;
      }
      // The start failed: this job should not pay for it twice, but it still needs a sandbox.
    } else {
      this.opts.onAcquire?.('miss');
      this.fill();
    }
    return this.cold.acquire(limits, labels);
  }

  private report(): void {
    this.opts.onSize?.({ idle: this.idle.length, starting: this.starting, target: this.target });
  }

  /** Starts what the pool lacks, if the worker lets it (see `busy`). */
  refill(): void {
    this.fill();
  }

  private fill(): void {
    const maxStarting = this.opts.maxStarting ?? 1;
    const deferred = () => (this.opts.busy?.() ?? false) && this.idle.length + this.starting > 0;
    while (
      !this.closed &&
      !deferred() &&
      this.starting < maxStarting &&
      this.idle.length + this.starting - this.waiters.length < this.target
    ) {
      this.starting += 1;
      const ticket = new StartTicket();
      this.tickets.add(ticket);
      if (this.waiters.length > this.starting - 1) ticket.raise();
      const started = this.cold
        .acquire(this.opts.limits, { jobId: 'warm-pool', background: ticket })
        .then((sandbox) => {
          this.tickets.delete(ticket);
          return this.settle(sandbox);
        })
        .catch((err: unknown) => {
          this.tickets.delete(ticket);
          this.starting -= 1;
          this.opts.onError?.(err);
          this.waiters.shift()?.resolve(err instanceof Error ? err : new Error(String(err)));
          if (!this.closed) setTimeout(() => this.fill(), this.opts.retryDelayMs ?? 1000).unref();
          this.report();
        });
      this.inFlight.add(started);
      void started.finally(() => this.inFlight.delete(started));
    }
    this.report();
  }

  private settle(sandbox: Sandbox): Promise<void> | undefined {
    this.starting -= 1;
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter.resolve(sandbox);
      this.fill();
      return;
    }
    if (this.closed) return sandbox.dispose();
    this.idle.push(sandbox);
    sandbox.idle().catch(this.opts.onError);
    // An idle sandbox that dies (OOM, a daemon restart) is dropped and replaced.
    void sandbox.whenExited().then(() => {
      if (!this.remove(sandbox)) return;
      sandbox.dispose().catch(this.opts.onError);
      this.fill();
    });
    this.fill();
    return;
  }

  private remove(sandbox: Sandbox): boolean {
    const at = this.idle.indexOf(sandbox);
    if (at < 0) return false;
    this.idle.splice(at, 1);
    return true;
  }

  /** Retires idle sandboxes above the target, oldest first, once demand has fallen. Never urgent. */
  private trim(): void {
    if (this.opts.busy?.()) return;
    const excess = this.idle.length + this.starting - this.target;
    for (const sandbox of this.idle.splice(0, Math.max(0, Math.min(excess, this.idle.length)))) {
      sandbox.dispose().catch(this.opts.onError);
    }
    this.fill();
  }

  /** Stops refilling and disposes of every idle sandbox. */
  async drain(): Promise<void> {
    this.closed = true;
    clearInterval(this.trimTimer);
    // Sandboxes still starting dispose of themselves once up (closed is set): wait for them too.
    await Promise.allSettled([...this.inFlight]);
    await Promise.allSettled(this.idle.splice(0).map((s) => s.dispose()));
    this.report();
  }
}
