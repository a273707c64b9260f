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
import { LABELS, type SandboxSettings } from './sandbox/container-spec.js';
import { DockerSandboxRunner } from './sandbox/docker-runner.js';
import { EnvironmentRouter } from './sandbox/environment-router.js';
import { OomEvents } from './sandbox/oom-events.js';
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
  metrics: Pick<WorkerMetrics, 'poolAcquires' | 'poolSize' | 'poolTarget' | 'sandboxStart'>;
  log: Pick<Logger, 'warn'>;
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
    this.cold = ctx.runner ?? this.dockerRunner();
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

  /** Starts the warm pools of the environments served. */
  startPools(): void {
    for (const [environment, pool] of this.pools) if (this.serving.has(environment)) pool.start();
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

  private dockerRunner(): SandboxRunner {
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
    });
  }

  /** The warm pool of one environment, for default-limit jobs, reporting to the pool metrics. */
  private warmPool(environment: Environment, busy: () => boolean): WarmPoolRunner {
    const { config, metrics, log } = this.ctx;
    // Zeros for each outcome: a hit ratio has its series before the first miss.
    for (const outcome of POOL_OUTCOMES) metrics.poolAcquires.inc({ outcome, environment }, 0);
    return new WarmPoolRunner(this.cold, {
      min: Math.min(config.sandboxes[environment].poolMin, config.poolMax),
      max: config.poolMax,
      maxStarting: config.poolStarts,
      limits: { time_ms: config.defaultTimeMs, memory_mb: config.defaultMemoryMb, environment },
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
