import type { BullKeys } from '@sbx/shared';
import type { Redis } from 'ioredis';

/**
 * KEYS: the queue's stalled set, then one lock per job. ARGV: lock duration (ms), then each job's token
 * and id. What BullMQ's extendLocks does, with PEXPIRE in place of its SET PX: Redis refuses a SET at
 * its memory limit but runs a PEXPIRE (it grows nothing). Returns how many locks were still the tokens'.
 */
const EXTEND = `
local kept = 0
for i = 2, #KEYS do
  local token, id = ARGV[2 * i - 2], ARGV[2 * i - 1]
  if redis.call('GET', KEYS[i]) == token then
    redis.call('PEXPIRE', KEYS[i], ARGV[1])
    redis.call('SREM', KEYS[1], id)
    kept = kept + 1
  end
end
return kept
`;

export interface LockKeeperOptions {
  /** BullMQ's keys of the queue: each job's lock, and the stalled set. */
  bull: Pick<BullKeys, 'lock' | 'stalled'>;
  lockMs: number;
  /** How often locks are renewed while kept: BullMQ's own lock renewal period. */
  everyMs: number;
  onError?: (err: unknown) => void;
}

/**
 * Keeps the locks of the jobs this worker runs while Redis is at its memory limit, where BullMQ's own
 * renewal is refused. Without it a run that outlasts the lock at the limit loses its job: once Redis
 * has room the job counts as stalled and runs again, and the first run's result, stored a moment
 * later, is refused as coming from a run that no longer holds the lock (or wins, and the rerun's is
 * dropped): a second run for nothing, and an attempt the job did not spend.
 *
 * Only jobs whose processor is still running are kept (`hold`): a job BullMQ has given up on is never
 * held past its processor, so its lock lapses as it would have.
 */
export class LockKeeper {
  private readonly held = new Map<string, { token: string; holds: number }>();
  private timer: NodeJS.Timeout | undefined;
  private renewing = false;
  private stopped = false;

  constructor(
    private readonly redis: Pick<Redis, 'eval'>,
    private readonly opts: LockKeeperOptions,
  ) {}

  /** Runs `work` (a job's processor) with the job's lock in this keeper's care until it settles. */
  async hold<T>(jobId: string, token: string | undefined, work: () => Promise<T>): Promise<T> {
    if (!token) return work();
    const entry = this.held.get(jobId) ?? { token, holds: 0 };
    entry.holds += 1;
    this.held.set(jobId, entry);
    try {
      return await work();
    } finally {
      entry.holds -= 1;
      if (entry.holds === 0 && this.held.get(jobId) === entry) this.held.delete(jobId);
    }
  }

  /** On: renews at once, then every `everyMs` until off (Redis has room and BullMQ renews again). */
  keep(on: boolean): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (!on || this.stopped) return;
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.opts.everyMs);
    this.timer.unref();
  }

  /** Renews every held lock still held by its token; how many were. */
  async renew(): Promise<number> {
    const jobs = [...this.held.entries()];
    if (jobs.length === 0) return 0;
    const keys = [this.opts.bull.stalled, ...jobs.map(([id]) => this.opts.bull.lock(id))];
    const args = [String(this.opts.lockMs), ...jobs.flatMap(([id, { token }]) => [token, id])];
    return Number(await this.redis.eval(EXTEND, keys.length, ...keys, ...args));
  }

  /** Keeps nothing from now on: the locks lapse as BullMQ's would, and the jobs go back to the queue. */
  stop(): void {
    this.stopped = true;
    this.keep(false);
  }

  private async tick(): Promise<void> {
    // One renewal at a time: a slow Redis must not pile them up.
    if (this.renewing) return;
    this.renewing = true;
    try {
      await this.renew();
    } catch (err) {
      this.opts.onError?.(err);
    } finally {
      this.renewing = false;
    }
  }
}
