import type { Environment, JobData, RunResult, WorkerConfig } from '@sbx/shared';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { DeferredDisposer } from './deferred-disposer.js';
import { executeJob } from './execute-job.js';
import type { OutputSink } from './live/live-output.js';
import type { WorkerMetrics } from './metrics.js';
import { QuietPeriod } from './quiet-period.js';
import { watchdogMs, withinWatchdog } from './run-watchdog.js';
import { CgroupOom } from './sandbox/cgroup-oom.js';
import { CheckpointRegistry } from './sandbox/checkpoint-registry.js';
import { CHECKPOINT_STATES, type Checkpoint, CheckpointBuilder } from './sandbox/checkpoints.js';
import { LABELS, type SandboxSettings, type SandboxSpec } from './sandbox/container-spec.js';
import { DockerSandboxRunner } from './sandbox/docker-runner.js';
import { EnvironmentRouter } from './sandbox/environment-router.js';
import { OomEvents } from './sandbox/oom-events.js';
import { poolBounds } from './sandbox/pool-bounds.js';
import { RecentIds } from './sandbox/recent-ids.js';
import type { InputSource, SandboxRunner } from './sandbox/types.js';
import { POOL_OUTCOMES, WarmPoolRunner } from './sandbox/warm-pool.js';

/**
 * How long after the last job ends the worker waits before removing used sandboxes and refilling the
 * pool (see QuietPeriod): longer than the gap between back-to-back requests, short enough that a
 * pool still refills between requests a person sends by hand.
 */
const BACKGROUND_QUIET_MS = 200;
/**
 * Used sandboxes kept for removal once the worker is quiet, per unit of concurrency: a used sandbox
 * holds about 20-25 MB (gVisor hands a finished run's memory back within a second or two).
 */
const DISPOSAL_BACKLOG_PER_SLOT = 4;

export type SandboxesConfig = Pick<
  WorkerConfig,
  | 'workerId'
  | 'prefix'
  | 'concurrency'
  | 'environments'
  | 'maxOutputBytes'
  | 'wallGraceMs'
  | 'policyLayer'
  | 'maxArtifacts'
  | 'maxArtifactBytes'
  | 'defaultTimeMs'
  | 'defaultMemoryMb'
  | 'sandboxes'
  | 'poolMax'
  | 'poolStarts'
  | 'checkpointDir'
  | 'checkpointRuntime'
>;

export interface SandboxesContext {
  config: SandboxesConfig;
  /** The containers' settings (sandboxSettingsFromConfig). */
  settings: SandboxSettings;
  docker: Docker;
  /** Runs sandboxes in place of Docker's (tests); the pools and the router are built on it all the same. */
  runner?: SandboxRunner;
  /** Whether the engine answers, as the worker last saw it: a refill failing while it is away is not news. */
  engineUp: () => boolean;
  /** One probe of the engine now (DockerWatch.check): a run that failed asks it whether the engine is why. */
  engineAnswers: () => Promise<boolean>;
  metrics: Pick<
    WorkerMetrics,
    'poolAcquires' | 'poolSize' | 'poolTarget' | 'sandboxStart' | 'checkpointState' | 'restores' | 'poolCeiling'
  >;
  log: Pick<Logger, 'warn' | 'info'>;
}

/**
 * Where jobs get their sandboxes: cold Docker sandboxes, a warm pool per environment on top (each
 * with its own floor; started only for the environments the self-check found), a router that sends
 * each job to its environment's pool, and the deferral of everything a running job would feel
 * (removing used sandboxes, refilling the pools) until the worker is quiet.
 */
export class Sandboxes {
  /** Cold sandboxes only: the self-check and the environment probe must not take pooled ones. */
  readonly cold: SandboxRunner;
  private readonly router: SandboxRunner;
  private readonly pools: Map<Environment, WarmPoolRunner>;
  private readonly quiet: QuietPeriod;
  private readonly disposer: DeferredDisposer;
  private readonly oomEvents: OomEvents;
  private readonly cgroupOom = new CgroupOom();
  /** The sandboxes this worker created, for its last containerd sweep on stop. */
  readonly created = new RecentIds();
  /** Environments whose image this worker has and whose probe passed; set by the self-check. */
  private serving = new Set<Environment>();
  /** Which pooled sandboxes are restored from a checkpoint (none with a runner of the caller's). */
  private readonly checkpoints: CheckpointRegistry | null;
  /** The Docker runner, when this worker's sandboxes are Docker's (not a caller's runner). */
  private readonly docker: DockerSandboxRunner | null;
  private preparing: Promise<void> = Promise.resolve();

  constructor(private readonly ctx: SandboxesContext) {
    const { config, log } = ctx;
    this.quiet = new QuietPeriod({ quietMs: BACKGROUND_QUIET_MS, onQuiet: () => this.whenQuiet() });
    const busy = () => this.quiet.busy();
    this.disposer = new DeferredDisposer({
      maxPending: config.concurrency * DISPOSAL_BACKLOG_PER_SLOT,
      busy,
      onError: (err) => log.warn({ err }, 'sandbox removal failed'),
    });
    this.oomEvents = new OomEvents(ctx.docker, `${LABELS.worker}=${config.workerId}`, (err) =>
      log.warn({ err }, 'docker event stream failed'),
    );
    if (ctx.runner) {
      this.checkpoints = null;
      this.docker = null;
      this.cold = ctx.runner;
    } else {
      this.checkpoints = this.checkpointRegistry();
      this.docker = this.dockerRunner();
      this.cold = this.docker;
    }
    this.pools = new Map(config.poolMax > 0 ? config.environments.map((e) => [e, this.warmPool(e, busy)]) : []);
    this.router = new EnvironmentRouter(
      Object.fromEntries(config.environments.map((e) => [e, this.pools.get(e) ?? this.cold])),
      () => this.serving,
      config.workerId,
    );
  }

  /** The environments jobs are served in. */
  get served(): ReadonlySet<Environment> {
    return this.serving;
  }

  serve(environments: ReadonlySet<Environment>): void {
    this.serving = new Set(environments);
  }

  /** Opens Docker's event stream, for the OOM kills of this worker's sandboxes. */
  async start(): Promise<void> {
    await this.oomEvents.start();
  }

  /**
   * Starts the warm pools of the environments served, and in the background finds or takes the
   * checkpoints their sandboxes will be restored from: until one is verified they start cold.
   */
  startPools(): void {
    for (const [environment, pool] of this.pools) if (this.serving.has(environment)) pool.start();
    const { config } = this.ctx;
    const wanted = [...this.pools.keys()].filter((e) => this.serving.has(e) && config.sandboxes[e].checkpoint);
    for (const e of [...this.pools.keys()].filter((e) => !wanted.includes(e))) this.setCheckpointState(e, 'off');
    if (this.checkpoints) this.preparing = this.checkpoints.prepare(wanted.map((e) => this.poolLimits(e)));
  }

  jobStarted(): void {
    this.quiet.jobStarted();
  }

  jobEnded(): void {
    this.quiet.jobEnded();
  }

  /** Runs a job in a sandbox of its environment; past its watchdog the run is given up as lost. */
  execute(
    jobId: string,
    data: JobData,
    run: { signal: AbortSignal; queuedSeconds: number; output?: OutputSink; input?: InputSource },
  ): Promise<RunResult> {
    const { config, metrics } = this.ctx;
    return withinWatchdog(
      executeJob(jobId, data, {
        runner: this.router,
        outputCap: config.maxOutputBytes,
        policyLayer: config.policyLayer,
        signal: run.signal,
        onAcquired: (s) => metrics.sandboxStart.observe(s),
        onDisposal: (dispose) => this.disposer.add(dispose),
        queuedSeconds: run.queuedSeconds,
        artifacts: { maxCount: config.maxArtifacts, maxBytes: config.maxArtifactBytes },
        ...(run.output ? { output: run.output } : {}),
        ...(run.input ? { input: run.input } : {}),
      }),
      watchdogMs(data),
    );
  }

  /** Stops deferring: the pools' sandboxes go, and so do the used ones still waiting for removal. */
  async drain(): Promise<void> {
    // A checkpoint being taken has a sandbox of its own: it is removed before the worker goes.
    this.checkpoints?.stop();
    await this.preparing;
    this.quiet.close();
    await Promise.all([...this.pools.values()].map((p) => p.drain()));
    await this.disposer.settle();
  }

  /** Stops watching for OOM kills; after drain, once no sandbox is left. */
  close(): void {
    this.oomEvents.close();
    this.cgroupOom.close();
  }

  private whenQuiet(): void {
    this.disposer.flush();
    for (const pool of this.pools.values()) pool.refill();
  }

  private dockerRunner(): DockerSandboxRunner {
    const { config } = this.ctx;
    return new DockerSandboxRunner({
      docker: this.ctx.docker,
      workerId: config.workerId,
      prefix: config.prefix,
      // Only the program's own bytes are counted (the harness's frames are not output); one byte past
      // the cap is kept so the stream it arrived on is known to be truncated.
      keepOutputBytes: config.maxOutputBytes + 1,
      wallGraceMs: config.wallGraceMs,
      oomEvents: this.oomEvents,
      cgroupOom: this.cgroupOom,
      engineAnswers: this.ctx.engineAnswers,
      settings: this.ctx.settings,
      created: this.created,
      ...(this.checkpoints ? { checkpoints: this.checkpoints } : {}),
    });
  }

  private checkpointRegistry(): CheckpointRegistry {
    const { config, metrics, log, docker, settings } = this.ctx;
    const builder = new CheckpointBuilder({
      docker,
      settings,
      dir: config.checkpointDir,
      takeRuntime: config.checkpointRuntime,
      labels: { workerId: config.workerId, prefix: config.prefix },
    });
    return new CheckpointRegistry({
      builder,
      verify: (checkpoint) => this.verifyRestore(checkpoint),
      log,
      onState: (environment, state) => this.setCheckpointState(environment, state),
      onRestore: (environment, outcome) => metrics.restores.inc({ environment, outcome }),
    });
  }

  /** One program in a sandbox restored from `checkpoint`: it must answer as a cold one would. */
  private async verifyRestore(checkpoint: Checkpoint): Promise<void> {
    if (!this.docker) throw new Error('no Docker runner to restore with');
    const sandbox = await this.docker.restore(
      this.poolLimits(checkpoint.environment),
      { jobId: 'checkpoint-check' },
      checkpoint,
    );
    try {
      const run = await sandbox.run({ code: 'print(6 * 7)', stdin: '', policy: 'standard' });
      const out = run.stdout.toString();
      if (!run.completed || run.exitCode !== 0 || out !== '42\n')
        throw new Error(`a restored sandbox answered ${JSON.stringify(out.slice(0, 200))}, exit ${run.exitCode}`);
    } finally {
      await sandbox.dispose();
    }
  }

  private setCheckpointState(environment: Environment, state: string): void {
    const { metrics } = this.ctx;
    for (const s of CHECKPOINT_STATES) metrics.checkpointState.set({ environment, state: s }, s === state ? 1 : 0);
  }

  /** The limits an environment's pool starts its sandboxes with: a default job's. */
  private poolLimits(environment: Environment): SandboxSpec {
    const { config } = this.ctx;
    return { time_ms: config.defaultTimeMs, memory_mb: config.defaultMemoryMb, environment };
  }

  /** The warm pool of one environment, for default-limit jobs, reporting to the pool metrics. */
  private warmPool(environment: Environment, busy: () => boolean): WarmPoolRunner {
    const { config, metrics, log } = this.ctx;
    // Zeros for each outcome: a hit ratio has its series before the first miss.
    for (const outcome of POOL_OUTCOMES) metrics.poolAcquires.inc({ outcome, environment }, 0);
    const bounds = poolBounds(config, environment);
    metrics.poolCeiling.set({ environment }, bounds.max);
    return new WarmPoolRunner(this.cold, {
      ...bounds,
      maxStarting: config.poolStarts,
      limits: this.poolLimits(environment),
      // While the engine is away every refill fails: the outage is logged once, not each second.
      onError: (err) => {
        if (this.ctx.engineUp()) log.warn({ err, environment }, 'warm sandbox failed');
      },
      onAcquire: (outcome) => metrics.poolAcquires.inc({ outcome, environment }),
      busy,
      onSize: ({ idle, starting, target }) => {
        metrics.poolSize.set({ state: 'idle', environment }, idle);
        metrics.poolSize.set({ state: 'starting', environment }, starting);
        metrics.poolTarget.set({ environment }, target);
      },
    });
  }
}
