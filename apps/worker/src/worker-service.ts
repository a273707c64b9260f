import {
  type Config,
  cancelledResult,
  type Environment,
  FairQueue,
  internalErrorResult,
  type JobData,
  jobReceipt,
  promoteToFront,
  RedisRoom,
  ReplicationShortError,
  RunningCap,
  type RunResult,
  redisConnectionOptions,
  redisKeys,
  replicaFenceFor,
  StorageLedger,
  withoutArtifactData,
} from '@sbx/shared';
import { deliverOnce, deliveryResult, webhookServiceFromConfig } from '@sbx/webhooks';
import { DelayedError, Job, Worker } from 'bullmq';
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { reapContainerdOrphans } from './containerd-orphans.js';
import { DeferredDisposer } from './deferred-disposer.js';
import { DockerWatch } from './docker-watch.js';
import { type ProbedEnvironment, probeEnvironments } from './environment-probe.js';
import { executeJob } from './execute-job.js';
import { Heartbeat } from './heartbeat.js';
import { reapLeftovers } from './janitor.js';
import { LockKeeper } from './lock-keeper.js';
import { createWorkerMetrics, type WorkerMetrics } from './metrics.js';
import { QuietPeriod } from './quiet-period.js';
import { ResultStore, type RunStart, withRun } from './result-store.js';
import { watchdogMs, withinWatchdog } from './run-watchdog.js';
import { CgroupOom } from './sandbox/cgroup-oom.js';
import { LABELS, sandboxSettingsFromConfig } from './sandbox/container-spec.js';
import { DockerSandboxRunner } from './sandbox/docker-runner.js';
import { EnvironmentRouter } from './sandbox/environment-router.js';
import { OomEvents } from './sandbox/oom-events.js';
import { inspectRuntime } from './sandbox/runtime-probe.js';
import type { SandboxRunner } from './sandbox/types.js';
import { POOL_OUTCOMES, WarmPoolRunner } from './sandbox/warm-pool.js';
import { checkSandboxRuntime, runSelfCheck, type SelfCheckResult } from './self-check.js';
import { TenantSlots } from './tenant-slots.js';

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
/** Retries for infrastructure failures (sandbox would not start); user-code outcomes are never retried. */
export const JOB_ATTEMPTS = 3;

export interface WorkerService {
  readonly workerId: string;
  readonly metrics: WorkerMetrics;
  /** The start-up self-check; null before it ran or when switched off. */
  readonly health: SelfCheckResult | null;
  start(): Promise<void>;
  /** Stops taking jobs, lets in-flight ones finish within the shutdown bound, then releases everything. */
  stop(): Promise<void>;
}

/** While the engine is away, a job younger than SBX_DOCKER_WAIT_MS is looked at again this often. */
const DOCKER_RETRY_MS = 1000;

/** How long cutting the queue worker's connections may take before shutdown goes on without it. */
const FORCE_CLOSE_MS = 5000;

/** True when `work` settles within `ms` (its failure counts as settled: shutdown goes on either way). */
async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function createWorkerService(config: Config, log: Logger, runner?: SandboxRunner): WorkerService {
  const keys = redisKeys(config.prefix);
  const docker = new Docker({ socketPath: config.dockerSocket });
  const redis = new Redis(redisConnectionOptions(config, { maxRetriesPerRequest: null }));
  const fair = new FairQueue(redis, config.prefix, config.queueName, config.interactiveStreak);
  // BullMQ leaves a connection it was handed open on close: we own it and close it ourselves.
  const workerConnection = redis.duplicate();
  // Cancels arrive on a channel: whichever worker runs the job aborts it.
  const cancelSubscriber = redis.duplicate();
  // SBX_REDIS_WAIT_REPLICAS: WAIT on a connection of its own, so a slow one never holds the heartbeat.
  const fenceConnection = config.redisWaitReplicas > 0 ? redis.duplicate() : null;
  fenceConnection?.on('error', (err) =>
    log.warn({ err: err.message, connection: 'replica fence' }, 'redis connection error'),
  );
  const fence = fenceConnection ? replicaFenceFor(fenceConnection, config) : null;
  /**
   * While the replicas are short (a failover leaves the new primary without one until a replica
   * returns) or Redis is away, waits up to the lock duration rather than spend the job's attempts on
   * a Redis matter; past that the attempt fails and its retry, finding the result, confirms again.
   */
  const confirmReplicated = async () => {
    if (!fence) return;
    const giveUpAt = Date.now() + config.lockDurationMs;
    for (;;) {
      try {
        return await fence.confirm();
      } catch (err) {
        if (Date.now() >= giveUpAt) throw err;
        // A short WAIT has waited its timeout already; a refused connection has not.
        if (!(err instanceof ReplicationShortError)) await new Promise((r) => setTimeout(r, 200));
      }
    }
  };
  // ioredis reconnects by itself; without a listener each failed attempt is an "Unhandled error event".
  for (const [name, client] of [
    ['results', redis],
    ['cancel channel', cancelSubscriber],
  ] as const)
    client.on('error', (err) => log.warn({ err: err.message, connection: name }, 'redis connection error'));
  const running = new Map<string, AbortController>();
  // What can wait while jobs run (removing used sandboxes, refilling the pool) waits for quiet.
  const quiet = new QuietPeriod({
    quietMs: BACKGROUND_QUIET_MS,
    onQuiet: () => {
      disposer.flush();
      refillPools();
    },
  });
  const busy = () => quiet.busy();
  const disposer = new DeferredDisposer({
    maxPending: config.concurrency * DISPOSAL_BACKLOG_PER_SLOT,
    busy,
    onError: (err) => log.warn({ err }, 'sandbox removal failed'),
  });
  cancelSubscriber.on('message', (_channel: string, jobId: string) => running.get(jobId)?.abort());
  const metrics = createWorkerMetrics();
  metrics.dockerUp.set(1);
  let outageTimer: NodeJS.Timeout | undefined;
  /** When the engine last stopped answering: jobs are failed for it only once it has been away the bound. */
  let engineDownSince = 0;
  const watch = new DockerWatch(docker, {
    onDown: () => {
      engineDownSince = Date.now();
      metrics.dockerUp.set(0);
      metrics.dockerOutages.inc();
      log.error('the Docker engine does not answer: no new jobs until it does');
      void worker?.pause(true).catch((err) => log.warn({ err }, 'could not pause the queue worker'));
      void publishHealth();
      // A queue must not wait for good: past the bound, jobs are taken again and those that have
      // waited that long end internal_error (see `process`); younger ones go back to wait.
      outageTimer = setTimeout(() => {
        log.error(
          { waitMs: config.dockerWaitMs },
          'the Docker engine is still away: failing jobs that waited past the bound',
        );
        worker?.resume();
      }, config.dockerWaitMs);
      outageTimer.unref();
    },
    onUp: () => {
      clearTimeout(outageTimer);
      metrics.dockerUp.set(1);
      log.info('the Docker engine answers again: re-running the self-check before taking jobs');
      void recheck();
    },
  });
  const oomEvents = new OomEvents(docker, `${LABELS.worker}=${config.workerId}`, (err) =>
    log.warn({ err }, 'docker event stream failed'),
  );
  const cgroupOom = new CgroupOom();
  const cold =
    runner ??
    new DockerSandboxRunner({
      docker,
      workerId: config.workerId,
      prefix: config.prefix,
      // Only the program's own bytes are counted (the harness's frames are not output); one byte past
      // the cap is kept so the stream it arrived on is known to be truncated.
      keepOutputBytes: config.maxOutputBytes + 1,
      wallGraceMs: config.wallGraceMs,
      oomEvents,
      cgroupOom,
      engineAnswers: () => watch.check(),
      settings: sandboxSettingsFromConfig(config),
    });
  // Warm sandboxes for default-limit jobs, one pool per environment with its own floor; started only
  // after the self-check passes, and only for environments the probe found.
  const floors: Record<Environment, number> = { python: config.poolMin, 'python-data': config.dataPoolMin };
  const poolFor = (environment: Environment) => {
    // Zeros for each outcome: a hit ratio has its series before the first miss.
    for (const outcome of POOL_OUTCOMES) metrics.poolAcquires.inc({ outcome, environment }, 0);
    return new WarmPoolRunner(cold, {
      min: Math.min(floors[environment], config.poolMax),
      max: config.poolMax,
      maxStarting: config.poolStarts,
      limits: { time_ms: config.defaultTimeMs, memory_mb: config.defaultMemoryMb, environment },
      // While the engine is away every refill fails: the outage is logged once, not each second.
      onError: (err) => {
        if (watch.up) log.warn({ err, environment }, 'warm sandbox failed');
      },
      onAcquire: (outcome) => metrics.poolAcquires.inc({ outcome, environment }),
      busy,
      onSize: ({ idle, starting, target }) => {
        metrics.poolSize.set({ state: 'idle', environment }, idle);
        metrics.poolSize.set({ state: 'starting', environment }, starting);
        metrics.poolTarget.set({ environment }, target);
      },
    });
  };
  const pools = new Map<Environment, WarmPoolRunner>(
    config.poolMax > 0 ? config.environments.map((e) => [e, poolFor(e)]) : [],
  );
  /** Environments whose image this worker has and whose probe passed; set by the self-check. */
  let served = new Set<Environment>();
  const sandboxes: SandboxRunner = new EnvironmentRouter(
    Object.fromEntries(config.environments.map((e) => [e, pools.get(e) ?? cold])),
    () => served,
    config.workerId,
  );
  const refillPools = () => {
    for (const p of pools.values()) p.refill();
  };
  const heartbeat = new Heartbeat(redis, keys.workers, config.workerId, config.heartbeatMs);
  const janitor = async () => {
    const swept = await reapLeftovers({
      docker,
      redis,
      workersKey: keys.workers,
      workerId: config.workerId,
      prefix: config.prefix,
      staleMs: config.workerStaleMs,
      log,
    });
    return { ...swept, forgotten: await reapContainerdOrphans({ docker, log }) };
  };
  let janitorTimer: NodeJS.Timeout | undefined;
  let abandoning = false;
  let stopping = false;
  let health: SelfCheckResult | null = null;
  let environments: ProbedEnvironment[] = [];

  /** Every container this worker (this id, this deployment) has: at start they are a previous run's. */
  async function removeOwnContainers(): Promise<number> {
    const mine = await docker
      .listContainers({
        all: true,
        filters: { label: [`${LABELS.worker}=${config.workerId}`, `${LABELS.prefix}=${config.prefix}`] },
      })
      .catch(() => []);
    await Promise.all(
      mine.map((c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => {}),
      ),
    );
    return mine.length;
  }
  let worker: Worker<JobData, { status: string }> | undefined;
  // Usable slots only: a worker that takes no jobs offers the fleet none, whatever its concurrency.
  metrics.readSlotsFrom(() => ({
    busy: running.size,
    total: worker && !stopping && watch.up && health?.ok ? config.concurrency : 0,
  }));

  /** Stores this worker's health (and whether its engine answers) for /readyz and GET /info. */
  async function publishHealth(): Promise<void> {
    if (!health) return;
    metrics.selfCheckOk.set(health.ok ? 1 : 0);
    const stored = { ...health, environments, ...(watch.up ? {} : { docker_unreachable: true }) };
    await redis.hset(keys.workerHealth, config.workerId, JSON.stringify(stored)).catch(() => {});
  }

  /** The runtime check and the canaries (unless switched off); true when jobs may be taken. */
  async function selfCheck(): Promise<boolean> {
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
    if (config.selfCheck) {
      health = await runSelfCheck(cold, {
        memoryMb: config.defaultMemoryMb,
        outputCap: config.maxOutputBytes,
        runtime,
      });
      if (health.ok) await probe();
      await publishHealth();
      if (!health.ok) {
        // Stay visible (heartbeat, /readyz says why) but take no job on a sandbox that failed a check.
        log.error({ failures: health.failures }, 'sandbox self-check FAILED: this worker takes no jobs');
        return false;
      }
      log.info('sandbox self-check passed');
      return true;
    }
    if (runtime.failures.length)
      log.warn({ failures: runtime.failures }, 'sandbox runtime check failed; SBX_SELF_CHECK=off takes jobs anyway');
    health = { ok: true, failures: [], checked_at: new Date().toISOString(), skipped: true, runtime: runtime.runtime };
    await probe();
    await publishHealth();
    return true;
  }

  /** Which environments this worker serves: those whose image it has and whose sandbox answers. */
  async function probe(): Promise<void> {
    environments = await probeEnvironments({
      docker,
      runner: cold,
      environments: config.environments,
      images: sandboxSettingsFromConfig(config).images,
      limits: { time_ms: config.defaultTimeMs, memory_mb: config.defaultMemoryMb },
      log,
    });
    served = new Set(environments.map((e) => e.name));
    log.info({ environments }, 'environments served');
  }

  /** After an outage: the engine may have come back different (another runsc, lost settings). */
  async function recheck(): Promise<void> {
    if (stopping || !(await selfCheck())) return;
    if (watch.up) worker?.resume();
    else await publishHealth();
  }

  const webhooks = webhookServiceFromConfig(config, log, {
    deliver: async (req) => {
      const outcome = await deliverOnce(req);
      metrics.webhookAttempts.inc({ result: deliveryResult(outcome) });
      return outcome;
    },
  });
  const ledger = new StorageLedger(redis, config.prefix, config.resultTtlSeconds);
  const results = new ResultStore(redis, {
    ttlSeconds: config.resultTtlSeconds,
    resultKey: keys.result,
    runsKey: keys.runs,
    jobKey: (jobId) => `${config.prefix}:${config.queueName}:${jobId}`,
  });
  // BullMQ's lock renewal period (lockRenewTime below), which the keeper shares.
  const lockRenewMs = Math.max(250, Math.floor(config.lockDurationMs / 4));
  // Redis at its memory limit (maxmemory, noeviction): this worker takes no new jobs, keeps the locks
  // of those it runs (BullMQ's renewal is refused there) and their results wait for room.
  const locks = new LockKeeper(redis, {
    lockKey: (jobId) => `${config.prefix}:${config.queueName}:${jobId}:lock`,
    stalledKey: `${config.prefix}:${config.queueName}:stalled`,
    lockMs: config.lockDurationMs,
    everyMs: lockRenewMs,
    onError: (err) => log.warn({ err }, 'could not keep the locks of running jobs while Redis is full'),
  });
  const room = new RedisRoom(redis, {
    onFull: () => {
      log.error(
        'Redis is at its memory limit (maxmemory): no new jobs until it has room; running jobs keep their locks and their results wait',
      );
      locks.keep(true);
      void worker?.pause(true);
    },
    onRoom: () => {
      log.info('Redis has room again');
      locks.keep(false);
      // A health stored while Redis was full was refused: without it /readyz never counts this worker.
      void publishHealth();
      if (watch.up && health?.ok && !stopping) void worker?.resume();
    },
  });
  /**
   * Records the result (never over another; with `token`, only while this run holds the job's lock)
   * and, when it was stored and the job asked for one, queues its signed webhook. While Redis is at its
   * memory limit both wait for room, as long as it takes: failing here would spend an attempt the
   * run did not use, and on the last one give the job an internal_error it did not earn.
   */
  const storeResult = async (result: RunResult, data: JobData, token?: string) => {
    const outcome = await room.retrying(
      () => results.store(result, token, jobReceipt(data)),
      () => log.warn({ job: result.id }, 'Redis is full: this result waits for room'),
    );
    // Counted against the tenant's stored-bytes quota; uncounted, it only lets the tenant store a little more.
    if (outcome === 'stored')
      ledger
        .add(data.tenant_id ?? 'anonymous', Buffer.byteLength(JSON.stringify(result)))
        .catch((err) => log.warn({ err }, 'could not count a result against its tenant quota'));
    if (outcome !== 'stored')
      log.warn({ job: result.id, outcome, attempt: result.run?.attempt }, 'result of this run not stored');
    // Before BullMQ marks the job done: a result the replicas lack could vanish in a failover while
    // the job stays completed. Short, this throws and the job's retry finds the result and confirms again.
    await confirmReplicated();
    if (outcome === 'stored' && data.callback_url && webhooks) {
      const { callback_url: url, tenant_id: signer } = data;
      await room.retrying(() => webhooks.enqueue(result.id, url, withoutArtifactData(result), signer));
    }
    return outcome;
  };

  const slots = new TenantSlots({
    cap: new RunningCap(redis, config.prefix),
    getJob: async (id) => (worker ? Job.fromId<JobData>(worker, id) : undefined),
    // Past its watchdog a run is given up; the lock's span covers a retake after its worker died.
    leaseMs: (data) => watchdogMs(data) + config.lockDurationMs,
    onError: (err) => log.warn({ err }, 'could not give back a tenant slot; it ends with its lease'),
  });

  /** Runs of this job before this one: failed attempts, and runs whose worker died (BullMQ counts those apart). */
  const runsBefore = (job: Job<JobData>) => job.attemptsMade + (job.stalledCounter ?? 0);

  async function process(job: Job<JobData>, token: string | undefined, signal?: AbortSignal) {
    const started = performance.now();
    const run: RunStart = {
      worker: config.workerId,
      attempt: runsBefore(job) + 1,
      started_at: new Date().toISOString(),
    };
    // Read once: the engine may go between two reads, and a job must not be failed for an outage
    // younger than the wait it is owed.
    const engineAway = !watch.up;
    const waitedOut = (since: number) => Date.now() - since >= config.dockerWaitMs;
    // Both bounds: a job taken just as one probe went unanswered (a loaded host, with a backlog that
    // made every queued job older than the bound) goes back to wait rather than failing at once.
    if (engineAway && !(waitedOut(Date.parse(job.data.submitted_at)) && waitedOut(engineDownSince))) {
      // Back to wait, no attempt spent: another worker's engine may answer, or ours again.
      await job.moveToDelayed(Date.now() + DOCKER_RETRY_MS, token);
      throw new DelayedError();
    }
    // Its tenant at its cap on running jobs: parked until one of them ends, no attempt spent.
    if (!(await slots.enter(job, token))) throw new DelayedError();
    try {
      return await processTaken(job, token, run, started, engineAway, signal);
    } finally {
      await slots.leave(job);
    }
  }

  /** The job holds a slot of its tenant's: it leaves the queue and runs (or is recorded as not run). */
  async function processTaken(
    job: Job<JobData>,
    token: string | undefined,
    run: RunStart,
    started: number,
    engineAway: boolean,
    signal?: AbortSignal,
  ) {
    const jobId = job.id as string;
    // Taken off the queue: it no longer counts against the caps, and its round is being served.
    const promote = await fair.started({
      id: jobId,
      tenantId: job.data.tenant_id ?? 'anonymous',
      lane: job.data.lane ?? 'batch',
      ...(job.data.round !== undefined ? { round: job.data.round } : {}),
    });
    if (promote) promoteBatchJob(promote);
    if (engineAway) {
      const message = `no Docker engine answered within ${Math.round(config.dockerWaitMs / 1000)} s of the job being queued (worker ${config.workerId})`;
      await storeResult(
        withRun({ ...internalErrorResult(jobId, job.data, message), attempts: runsBefore(job) + 1 }, run),
        job.data,
        token,
      );
      metrics.runs.inc({ status: 'internal_error' });
      return { status: 'internal_error' };
    }
    // A job retaken after its worker died may have finished already: never run it twice.
    const existing = await redis.get(keys.result(jobId));
    if (existing) {
      await confirmReplicated();
      return { status: (JSON.parse(existing) as RunResult).status };
    }
    const cancel = new AbortController();
    running.set(jobId, cancel);
    quiet.jobStarted();
    try {
      // Registered before the flag check: a cancel between the two is then caught by the channel.
      if (await redis.exists(keys.cancelFlag(jobId))) {
        await storeResult(withRun(cancelledResult(jobId, job.data), run), job.data, token);
        return { status: 'cancelled' };
      }
      return await runJob(job, jobId, started, signal ? AbortSignal.any([signal, cancel.signal]) : cancel.signal, {
        run,
        token,
      });
    } finally {
      running.delete(jobId);
      quiet.jobEnded();
    }
  }

  /** Not awaited: the job being started need not wait for another one's move. */
  function promoteBatchJob(id: string) {
    const queue = worker;
    if (!queue) return;
    promoteToFront((jobId) => Job.fromId<JobData>(queue, jobId), id).then(
      (moved) => moved && metrics.batchPromotions.inc(),
      () => {},
    );
  }

  async function runJob(
    job: Job<JobData>,
    jobId: string,
    started: number,
    signal: AbortSignal,
    attempt: { run: RunStart; token: string | undefined },
  ) {
    // Not awaited: the run log is evidence, and a run already taken goes on while Redis is away.
    results.started(jobId, attempt.run).catch(() => {});
    const queuedSeconds = Math.max(0, Date.now() - Date.parse(job.data.submitted_at)) / 1000;
    metrics.queueWait.observe({ lane: job.data.lane ?? 'batch' }, queuedSeconds);
    const jobLog = log.child({ job: jobId, request: job.data.request_id });
    if (config.runtime !== 'runsc') jobLog.warn({ runtime: config.runtime }, 'running user code WITHOUT gVisor');
    let result: RunResult;
    try {
      result = await withinWatchdog(
        executeJob(jobId, job.data, {
          runner: sandboxes,
          outputCap: config.maxOutputBytes,
          policyLayer: config.policyLayer,
          signal,
          onAcquired: (s) => metrics.sandboxStart.observe(s),
          onDisposal: (dispose) => disposer.add(dispose),
          queuedSeconds,
          artifacts: { maxCount: config.maxArtifacts, maxBytes: config.maxArtifactBytes },
        }),
        watchdogMs(job.data),
      );
    } catch (err) {
      metrics.infraFailures.inc();
      jobLog.error({ err, attempt: runsBefore(job) + 1 }, 'sandbox failed');
      // Lost to an engine that is away: the retry waits for it rather than finding it gone too.
      if (!(await watch.check())) await watch.waitUntilUp(config.dockerWaitMs);
      throw err;
    }
    if (abandoning) throw new Error('worker shut down mid-run; the job will be retried');
    result = withRun({ ...result, attempts: runsBefore(job) + 1 }, attempt.run);
    await storeResult(result, job.data, attempt.token);
    metrics.runs.inc({ status: result.status });
    metrics.runDuration.observe({ status: result.status }, result.time);
    metrics.jobDuration.observe((performance.now() - started) / 1000);
    jobLog.info({ status: result.status, time: result.time, wall: result.wall_time }, 'job finished');
    return { status: result.status };
  }

  return {
    workerId: config.workerId,
    metrics,
    get health() {
      return health;
    },
    async start() {
      if (config.runtime !== 'runsc')
        log.warn(
          { runtime: config.runtime },
          'sandboxes are NOT using gVisor (runsc): user code shares the host kernel',
        );
      await heartbeat.start();
      await webhooks?.start();
      await cancelSubscriber.subscribe(keys.cancelChannel);
      await oomEvents.start();
      watch.start();
      // Restarted under the same id (npm run up's supervisor): the dead run's sandboxes go first.
      const previous = await removeOwnContainers();
      if (previous) log.info({ containers: previous }, 'removed the sandboxes of this worker before its restart');
      const reaped = await janitor();
      if (reaped.containers || reaped.processes || reaped.forgotten) log.info(reaped, 'cleaned up after dead workers');
      janitorTimer = setInterval(() => {
        janitor().catch((err) => log.warn({ err }, 'janitor failed'));
        // As often as a worker can go stale: a dead worker's sandboxes go within two staleness windows.
      }, config.workerStaleMs);
      janitorTimer.unref();
      if (!(await selfCheck())) return;
      for (const [environment, p] of pools) if (served.has(environment)) p.start();
      // Each job's processor runs with its lock in the keeper's care (kept only while Redis is full).
      const processHeld = (job: Job<JobData>, token: string | undefined, signal?: AbortSignal) =>
        locks.hold(job.id as string, token, () => process(job, token, signal));
      worker = new Worker<JobData, { status: string }>(config.queueName, processHeld, {
        connection: workerConnection,
        prefix: config.prefix,
        concurrency: config.concurrency,
        lockDuration: config.lockDurationMs,
        // Renewed every quarter of the lock rather than BullMQ's half: a worker starved of CPU (or a
        // slow Redis) then keeps its jobs through a stall of three quarters of the lock, not one half.
        // A lapsed lock costs a rerun, and a job that lapses three times is failed as stalled.
        lockRenewTime: lockRenewMs,
        stalledInterval: config.stalledIntervalMs,
        // A job whose worker dies twice is failed rather than retried forever; the API reports it as internal_error.
        maxStalledCount: 2,
        name: config.workerId,
      });
      worker.on('failed', (job, err) => {
        // 'failed' comes for retried attempts too: only a job failed for good has finishedOn, after its
        // last attempt or after stalling too often (maxStalledCount), however few attempts that took.
        if (!job?.finishedOn) return;
        storeResult(
          { ...internalErrorResult(job.id as string, job.data, err.message), attempts: runsBefore(job) },
          job.data,
        ).catch(() => {});
        metrics.runs.inc({ status: 'internal_error' });
      });
      worker.on('error', (err) => {
        // At the memory limit BullMQ's calls are refused over and over: the spell is logged once (onFull),
        // and the worker stays paused even if something resumed it meanwhile.
        if (!room.refused(err)) return log.error({ err }, 'queue worker error');
        if (!worker?.isPaused()) void worker?.pause(true);
      });
      await worker.waitUntilReady();
      log.info({ concurrency: config.concurrency, runtime: config.runtime, environments: [...served] }, 'worker ready');
    },
    async stop() {
      stopping = true;
      clearInterval(janitorTimer);
      clearTimeout(outageTimer);
      watch.stop();
      if (worker) {
        const finished = await within(worker.close(), config.shutdownTimeoutMs);
        if (!finished) {
          // Jobs still running now are left to the queue: their locks lapse and another worker retakes them.
          abandoning = true;
          // Their locks lapse even while Redis is full: that is how they go back to the queue.
          locks.stop();
          log.warn('in-flight jobs did not finish in time; they go back to the queue');
          await removeOwnContainers();
          // close() is memoised: a second close(true) would only wait on the first. And after a Redis
          // outage BullMQ can keep a job it failed to finish in flight for good, so cut the connections.
          if (!(await within(worker.disconnect(), FORCE_CLOSE_MS))) log.warn('the queue worker did not disconnect');
        }
      }
      // Results still waiting for room give up now, with the queue worker cut off: nothing of theirs
      // reaches Redis, and their jobs are retaken once their locks lapse.
      locks.stop();
      room.close();
      quiet.close();
      await Promise.all([...pools.values()].map((p) => p.drain()));
      await disposer.settle();
      // What a failed removal left (the engine was away when a sandbox was due to go) goes now.
      await removeOwnContainers();
      oomEvents.close();
      cgroupOom.close();
      await heartbeat.stop();
      await webhooks?.stop();
      await redis.hdel(keys.workerHealth, config.workerId).catch(() => {});
      workerConnection.disconnect();
      cancelSubscriber.disconnect();
      fenceConnection?.disconnect();
      redis.disconnect();
    },
  };
}
