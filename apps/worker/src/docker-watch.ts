import type Docker from 'dockerode';

export interface DockerWatchOptions {
  /** How often the engine is probed. Default 1000 ms. */
  intervalMs?: number;
  /** A probe slower than this counts as unreachable. Default 2000 ms. */
  timeoutMs?: number;
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
      const components = await probe(this.docker, this.opts.timeoutMs ?? 2000);
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

/** The engine's component names (`Engine`, `containerd`, ...), or null when it does not answer in time. */
async function probe(docker: Docker, timeoutMs: number): Promise<string[] | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      docker.version().then(
        (v) => (v.Components ?? []).map((c) => c.Name),
        () => null,
      ),
      new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
