import type Docker from 'dockerode';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { reapContainerdOrphans } from './containerd-orphans.js';
import { reapLeftovers } from './janitor.js';
import { LABELS } from './sandbox/container-spec.js';

/** removeOwn's rounds, and the wait between them: a removal under way settles within a few seconds. */
const REMOVE_ROUNDS = 4;
const REMOVE_RETRY_MS = 1000;

export interface LeftoverSweeperOptions {
  docker: Docker;
  redis: Redis;
  /** The heartbeats' sorted set (redisKeys().workers): a worker missing from it is dead. */
  workersKey: string;
  workerId: string;
  /** The deployment's prefix: only its sandboxes are this worker's business. */
  prefix: string;
  /**
   * SBX_WORKER_STALE_MS: a worker silent this long is dead. Also how often the sweep runs, so a dead
   * worker's sandboxes go within two staleness windows.
   */
  staleMs: number;
  log: Logger;
}

/**
 * Removes what dead workers left behind: at start, this worker's own sandboxes from before a restart
 * under the same id; then, every staleness window, the sandboxes of workers gone silent and the runsc
 * and containerd leftovers Docker no longer knows.
 */
export class LeftoverSweeper {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: LeftoverSweeperOptions) {}

  /** Removes this worker's own leftovers and sweeps once, then every `staleMs`. */
  async start(): Promise<void> {
    const { log } = this.opts;
    // Restarted under the same id (npm run up's supervisor): the dead run's sandboxes go first.
    const previous = await this.removeOwn();
    if (previous) log.info({ containers: previous }, 'removed the sandboxes of this worker before its restart');
    const reaped = await this.sweep();
    if (reaped.containers || reaped.processes || reaped.forgotten) log.info(reaped, 'cleaned up after dead workers');
    this.timer = setInterval(() => {
      this.sweep().catch((err) => log.warn({ err }, 'janitor failed'));
    }, this.opts.staleMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * The last sweep on stop: containerd containers of sandboxes this worker created that Docker no
   * longer knows, however young (the periodic sweep leaves young ones alone, and there is no next one).
   */
  async reapOwnForgotten(ours: { has(id: string): boolean }): Promise<number> {
    const { docker, log } = this.opts;
    return reapContainerdOrphans({ docker, log, ours });
  }

  /**
   * Every container this worker (this id, this deployment) has; how many there were. A removal the
   * engine had under way when it restarted ends with the container `dead`, and a removal asked for
   * meanwhile is refused ("already in progress"): those are asked again, a few times, until none is left.
   */
  async removeOwn(): Promise<number> {
    let first: number | null = null;
    for (let round = 0; round < REMOVE_ROUNDS; round++) {
      const mine = await this.listOwn();
      first ??= mine.length;
      if (mine.length === 0) break;
      if (round > 0) await new Promise((r) => setTimeout(r, REMOVE_RETRY_MS));
      await Promise.all(
        mine.map((c) =>
          this.opts.docker
            .getContainer(c.Id)
            .remove({ force: true })
            .catch(() => {}),
        ),
      );
    }
    return first ?? 0;
  }

  private listOwn() {
    const { docker, workerId, prefix } = this.opts;
    return docker
      .listContainers({
        all: true,
        filters: { label: [`${LABELS.worker}=${workerId}`, `${LABELS.prefix}=${prefix}`] },
      })
      .catch(() => []);
  }

  private async sweep(): Promise<{ containers: number; processes: number; forgotten: number }> {
    const { docker, log } = this.opts;
    const swept = await reapLeftovers(this.opts);
    return { ...swept, forgotten: await reapContainerdOrphans({ docker, log }) };
  }
}
