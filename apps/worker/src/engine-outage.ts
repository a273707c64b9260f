import type { Logger } from 'pino';
import type { WorkerMetrics } from './metrics.js';

/** What a job taken now gets while the engine is away: run it, send it back to wait, or fail it. */
export type EngineVerdict = 'run' | 'wait' | 'fail';

export interface EngineOutageContext {
  /**
   * SBX_DOCKER_WAIT_MS: the longest a job waits for an engine. Past it, counted both from the job's
   * submission and from the outage's start, a job taken while the engine is away is failed.
   */
  waitMs: number;
  /** The taking of jobs: paused while the engine is away, resumed at the bound to fail old jobs. */
  queue: { pause(): Promise<void>; resume(): void };
  metrics: Pick<WorkerMetrics, 'dockerUp' | 'dockerOutages'>;
  log: Pick<Logger, 'error' | 'info' | 'warn'>;
}

/** Who else hears of the engine going and coming back: the health check. */
export interface EngineListener {
  /** The engine went away: this worker's published health should say so. */
  down(): void;
  /** The engine answers again: the self-check runs again before jobs are taken (the engine may have changed). */
  up(): void;
}

/**
 * What the worker does while its Docker engine is away, driven by DockerWatch's down and up:
 *
 *   up --down()--> away: no new jobs (the queue worker is paused)
 *   away --waitMs--> waited out: jobs are taken again, and those that waited past the bound end
 *                    internal_error (see `judge`); younger ones go back to wait
 *   away or waited out --up()--> up, and jobs are taken once the self-check passed again (the listener's up)
 *
 * A queue must not wait for good: without the bound, jobs submitted during a long outage would wait
 * forever for a worker that never takes them.
 */
export class EngineOutage {
  /** When the engine stopped answering (ms); null while it answers. */
  private downSince: number | null = null;
  private timer: NodeJS.Timeout | undefined;
  private listener: EngineListener | null = null;

  constructor(private readonly ctx: EngineOutageContext) {
    ctx.metrics.dockerUp.set(1);
  }

  /**
   * Set once, after construction: the health check runs its canaries in sandboxes that probe the
   * engine whose outage this is, so it is built after the outage, and joins it here.
   */
  listen(listener: EngineListener): void {
    this.listener = listener;
  }

  /** The engine answers, as far as the last probe knows. */
  get engineUp(): boolean {
    return this.downSince === null;
  }

  down(now = Date.now()): void {
    const { ctx } = this;
    this.downSince = now;
    ctx.metrics.dockerUp.set(0);
    ctx.metrics.dockerOutages.inc();
    ctx.log.error('the Docker engine does not answer: no new jobs until it does');
    void ctx.queue.pause().catch((err) => ctx.log.warn({ err }, 'could not pause the queue worker'));
    this.listener?.down();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      ctx.log.error({ waitMs: ctx.waitMs }, 'the Docker engine is still away: failing jobs that waited past the bound');
      ctx.queue.resume();
    }, ctx.waitMs);
    this.timer.unref();
  }

  up(): void {
    clearTimeout(this.timer);
    this.downSince = null;
    this.ctx.metrics.dockerUp.set(1);
    this.ctx.log.info('the Docker engine answers again: re-running the self-check before taking jobs');
    this.listener?.up();
  }

  /**
   * What a job submitted at `submittedAt` (ISO) gets if taken now. Read once per job: the engine may
   * go between two reads, and a job must not be failed for an outage younger than the wait it is owed.
   * Both bounds: a job taken just as one probe went unanswered (a loaded host, with a backlog that
   * made every queued job older than the bound) goes back to wait rather than failing at once.
   */
  judge(submittedAt: string, now = Date.now()): EngineVerdict {
    if (this.downSince === null) return 'run';
    const waitedOut = (since: number) => now - since >= this.ctx.waitMs;
    return waitedOut(Date.parse(submittedAt)) && waitedOut(this.downSince) ? 'fail' : 'wait';
  }

  /** No timer from now on: the service is stopping. */
  stop(): void {
    clearTimeout(this.timer);
  }
}
