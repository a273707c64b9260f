import type Docker from 'dockerode';

export interface DockerWatchOptions {
  /** How often the engine is probed. Default 1000 ms. */
  intervalMs?: number;
  /** A probe slower than this gets no answer. Default 2000 ms. */
  timeoutMs?: number;
  /**
   * How many probes in a row must go unanswered before a slow engine counts as away. Default 3. A
   * refused connection or an error is away at once: only slowness is given this benefit of the doubt.
   */
  slowProbesBeforeDown?: number;
  /** The engine stopped answering. */
  onDown?: () => void;
  /** It answers again, after having been down. */
  onUp?: () => void;
}

/**
 * Whether the Docker engine answers, and its containerd behind it, from a probe every second. A daemon restart (a package upgrade,
 * an operator's `systemctl restart docker`) takes it away for seconds: the worker stops taking jobs
 * then, and waits for it before retrying a run it lost, instead of spending the job's attempts on an
 * engine that is not there.
 */
export class DockerWatch {
  private timer: NodeJS.Timeout | undefined;
  private waiters = new Set<() => void>();
  private reachable = true;
  private probing = false;
  /** Set once the engine has named its containerd: from then on, an engine without one is down. */
  private hasContainerd = false;
  /** Unanswered probes in a row. */
  private slowProbes = 0;

  constructor(
    private readonly docker: Docker,
    private readonly opts: DockerWatchOptions = {},
  ) {}

  get up(): boolean {
    return this.reachable;
  }

  start(): void {
    this.timer = setInterval(() => void this.check(), this.opts.intervalMs ?? 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  /** Resolves true once the engine answers (at once if it does), false after `ms` without it. */
  waitUntilUp(ms: number): Promise<boolean> {
    if (this.reachable) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(wake);
        resolve(false);
      }, ms);
      const wake = () => {
        clearTimeout(timer);
        resolve(this.reachable);
      };
      this.waiters.add(wake);
    });
  }

  /** One probe now; the state changes (and the callbacks run) on its outcome. */
  async check(): Promise<boolean> {
    if (this.probing) return this.reachable;
    this.probing = true;
    try {
      const answer = await probe(this.docker, this.opts.timeoutMs ?? 2000);
      // Under a burst on two cores the engine was measured answering /version in 2.4-2.7 s: a busy
      // engine is not a gone one, and calling it gone paused every worker and re-ran their self-checks.
      this.slowProbes = answer === 'slow' ? this.slowProbes + 1 : 0;
      const stillGivenTime =
        answer === 'slow' && this.reachable && this.slowProbes < (this.opts.slowProbesBeforeDown ?? 3);
      if (stillGivenTime) return true;
      const components = Array.isArray(answer) ? answer : null;
      const containerd = components?.includes('containerd') ?? false;
      this.hasContainerd ||= containerd;
      // dockerd answers while the containerd it supervises is dead (it restarts it within about
      // 10 s here), but every container start fails then: that is the engine away, too.
      const ok = components !== null && (containerd || !this.hasContainerd);
      if (ok !== this.reachable) {
        this.reachable = ok;
        if (ok) {
          for (const wake of this.waiters) wake();
          this.waiters.clear();
          this.opts.onUp?.();
        } else this.opts.onDown?.();
      }
      return ok;
    } finally {
      this.probing = false;
    }
  }
}

/** The engine's component names (`Engine`, `containerd`, ...), 'error' when it refused, 'slow' when it did not answer in time. */
async function probe(docker: Docker, timeoutMs: number): Promise<string[] | 'error' | 'slow'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      docker.version().then(
        (v) => (v.Components ?? []).map((c) => c.Name),
        () => 'error' as const,
      ),
      new Promise<'slow'>((resolve) => {
        timer = setTimeout(() => resolve('slow'), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
