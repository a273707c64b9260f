import type Docker from 'dockerode';

export interface DockerWatchOptions {
  /** How often the engine is pinged. Default 1000 ms. */
  intervalMs?: number;
  /** A ping slower than this counts as unreachable. Default 2000 ms. */
  timeoutMs?: number;
  /** The engine stopped answering. */
  onDown?: () => void;
  /** It answers again, after having been down. */
  onUp?: () => void;
}

/**
 * Whether the Docker engine answers, from a ping every second. A daemon restart (a package upgrade,
 * an operator's `systemctl restart docker`) takes it away for seconds: the worker stops taking jobs
 * then, and waits for it before retrying a run it lost, instead of spending the job's attempts on an
 * engine that is not there.
 */
export class DockerWatch {
  private timer: NodeJS.Timeout | undefined;
  private waiters = new Set<() => void>();
  private reachable = true;
  private pinging = false;

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

  /** One ping now; the state changes (and the callbacks run) on its outcome. */
  async check(): Promise<boolean> {
    if (this.pinging) return this.reachable;
    this.pinging = true;
    try {
      const ok = await ping(this.docker, this.opts.timeoutMs ?? 2000);
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
      this.pinging = false;
    }
  }
}

async function ping(docker: Docker, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      docker.ping().then(
        () => true,
        () => false,
      ),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
