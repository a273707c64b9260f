import type { Environment, WorkerConfig } from '@sbx/shared';
import type Docker from 'dockerode';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { type ProbedEnvironment, probeEnvironments } from './environment-probe.js';
import type { WorkerMetrics } from './metrics.js';
import { inspectRuntime } from './sandbox/runtime-probe.js';
import type { SandboxRunner } from './sandbox/types.js';
import { checkSandboxRuntime, type RuntimeCheck, runSelfCheck, type SelfCheckResult } from './self-check.js';

export interface HealthCheckContext {
  config: Pick<
    WorkerConfig,
    | 'workerId'
    | 'runtime'
    | 'runscMinRelease'
    | 'selfCheck'
    | 'environments'
    | 'defaultTimeMs'
    | 'defaultMemoryMb'
    | 'maxOutputBytes'
  >;
  /** Each environment's image (SandboxSettings.images): the probe asks the engine for it. */
  images: Record<Environment, string>;
  docker: Docker;
  /** Cold sandboxes for the canaries and the probe: a pooled one would not be the runtime's own start. */
  runner: SandboxRunner;
  /** Told which environments passed the probe: only those are served. */
  serve: (environments: ReadonlySet<Environment>) => void;
  engineUp: () => boolean;
  /** The taking of jobs: resumed after a recheck passes, never while stopping. */
  queue: { readonly closing: boolean; resume(): void };
  /** Where the health is published: a hash of worker id → its JSON (redisKeys().workerHealth). */
  store: { redis: Pick<Redis, 'hset' | 'hdel'>; key: string };
  metrics: Pick<WorkerMetrics, 'selfCheckOk' | 'runtimeInfo'>;
  log: Logger;
}

/**
 * Whether this worker may take jobs, as its self-check found (the sandbox runtime, the canaries,
 * the environments served), and publishing that, with whether its engine answers, for /readyz and
 * GET /info. A worker whose check failed stays visible but takes no job.
 */
export class HealthCheck {
  private result: SelfCheckResult | null = null;
  private environments: ProbedEnvironment[] = [];

  constructor(private readonly ctx: HealthCheckContext) {}

  /** The last self-check; null before it ran. */
  get current(): SelfCheckResult | null {
    return this.result;
  }

  /** The last self-check passed (or was switched off). */
  get ok(): boolean {
    return this.result?.ok ?? false;
  }

  /** The runtime check and the canaries (unless switched off), then the probe; true when jobs may be taken. */
  async selfCheck(): Promise<boolean> {
    const { config, log } = this.ctx;
    const runtime = await this.checkRuntime();
    if (config.selfCheck) {
      this.result = await runSelfCheck(this.ctx.runner, {
        memoryMb: config.defaultMemoryMb,
        outputCap: config.maxOutputBytes,
        runtime,
      });
      if (this.result.ok) await this.probe();
      await this.publish();
      if (!this.result.ok) {
        // Stay visible (heartbeat, /readyz says why) but take no job on a sandbox that failed a check.
        log.error({ failures: this.result.failures }, 'sandbox self-check FAILED: this worker takes no jobs');
        return false;
      }
      log.info('sandbox self-check passed');
      return true;
    }
    if (runtime.failures.length)
      log.warn({ failures: runtime.failures }, 'sandbox runtime check failed; SBX_SELF_CHECK=off takes jobs anyway');
    const checked_at = new Date().toISOString();
    this.result = { ok: true, failures: [], checked_at, skipped: true, runtime: runtime.runtime };
    await this.probe();
    await this.publish();
    return true;
  }

  /** After an outage: the engine may have come back different (another runsc, lost settings). */
  async recheck(): Promise<void> {
    const { queue } = this.ctx;
    if (queue.closing || !(await this.selfCheck())) return;
    if (this.ctx.engineUp()) queue.resume();
    else await this.publish();
  }

  /** Stores this worker's health (and whether its engine answers); nothing before the first check. */
  async publish(): Promise<void> {
    if (!this.result) return;
    const { ctx } = this;
    ctx.metrics.selfCheckOk.set(this.result.ok ? 1 : 0);
    const stored = {
      ...this.result,
      environments: this.environments,
      ...(ctx.engineUp() ? {} : { docker_unreachable: true }),
    };
    await ctx.store.redis.hset(ctx.store.key, ctx.config.workerId, JSON.stringify(stored)).catch(() => {});
  }

  /** Takes this worker's health down: it is stopping. */
  async withdraw(): Promise<void> {
    await this.ctx.store.redis.hdel(this.ctx.store.key, this.ctx.config.workerId).catch(() => {});
  }

  /** The runtime's facts, logged and in the runtime info metric. */
  private async checkRuntime(): Promise<RuntimeCheck> {
    const { config, docker, log, metrics } = this.ctx;
    const runtime = await checkSandboxRuntime(() => inspectRuntime(docker, config.runtime), config.runscMinRelease);
    if (runtime.runtime) {
      const { runtime: name, release, platform, directfs } = runtime.runtime;
      log.info({ runtime: name, path: runtime.path, release, platform, directfs }, 'sandbox runtime');
      metrics.runtimeInfo.reset();
      metrics.runtimeInfo.set(
        { runtime: name, release: release ?? '', platform: platform ?? '', directfs: String(directfs ?? '') },
        1,
      );
    }
    return runtime;
  }

  /** Which environments this worker serves: those whose image it has and whose sandbox answers. */
  private async probe(): Promise<void> {
    const { config, log } = this.ctx;
    this.environments = await probeEnvironments({
      docker: this.ctx.docker,
      runner: this.ctx.runner,
      environments: config.environments,
      images: this.ctx.images,
      limits: { time_ms: config.defaultTimeMs, memory_mb: config.defaultMemoryMb },
      log,
    });
    this.ctx.serve(new Set(this.environments.map((e) => e.name)));
    log.info({ environments: this.environments }, 'environments served');
  }
}
