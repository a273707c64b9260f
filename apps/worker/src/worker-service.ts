/**
 * The worker's composition root: builds its parts, then starts and stops them in order. What each
 * part does is in its own module; this file only says which part needs which, and in what order they
 * come up and go down.
 *
 *   redis-connections  the four connections       engine-outage    pause/resume while Docker is away
 *   sandboxes          cold runner, pools, router  health-check     self-check, probe, published health
 *   leftover-sweeper   dead workers' sandboxes     memory-limit     Redis at maxmemory: pause, keep locks
 *   cancel-channel     cancels reaching runs       result-recorder  store, quota, replicas, webhook
 *   job-processor      what happens to each job    queue-worker     the BullMQ worker and its gate
 *   live/*             each run's events to its viewers (status, output as it arrives)
 */
import {
  bullKeys,
  FairQueue,
  type RedisRoom,
  RunningCap,
  redisKeys,
  replicaFenceFor,
  StorageLedger,
  type WorkerConfig,
} from '@sbx/shared';
import { deliverOnce, deliveryResult, type WebhookService, webhookServiceFromConfig } from '@sbx/webhooks';
import Docker from 'dockerode';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { CancelChannel } from './cancel-channel.js';
import { DockerWatch } from './docker-watch.js';
import { EngineOutage } from './engine-outage.js';
import { HealthCheck } from './health-check.js';
import { Heartbeat } from './heartbeat.js';
import { JobProcessor } from './job-processor.js';
import { LeftoverSweeper } from './leftover-sweeper.js';
import { JobEventPublisher } from './live/event-publisher.js';
import { InputFollower } from './live/input-follower.js';
import { LiveRuns } from './live/live-runs.js';
import { LockKeeper } from './lock-keeper.js';
import { watchMemoryLimit } from './memory-limit.js';
import { createWorkerMetrics, type WorkerMetrics } from './metrics.js';
import { lockRenewMsFor, openQueueWorker, QueueGate } from './queue-worker.js';
import { openRedisConnections, type RedisConnections } from './redis-connections.js';
import { patientReplicaConfirm } from './replica-confirm.js';
import { ResultRecorder } from './result-recorder.js';
import { ResultStore } from './result-store.js';
import { watchdogMs } from './run-watchdog.js';
import { sandboxSettingsFromConfig } from './sandbox/container-spec.js';
import type { SandboxRunner } from './sandbox/types.js';
import { Sandboxes } from './sandboxes.js';
import type { SelfCheckResult } from './self-check.js';
import { TenantSlots } from './tenant-slots.js';

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

/** How long cutting the queue worker's connections may take before shutdown goes on without it. */
const FORCE_CLOSE_MS = 5000;

/** Every part of one worker, built once; `start` and `stop` bring them up and down in order. */
interface WorkerParts {
  config: WorkerConfig;
  log: Logger;
  connections: RedisConnections;
  metrics: WorkerMetrics;
  gate: QueueGate;
  outage: EngineOutage;
  watch: DockerWatch;
  sandboxes: Sandboxes;
  health: HealthCheck;
  sweeper: LeftoverSweeper;
  heartbeat: Heartbeat;
  webhooks: WebhookService | null;
  cancels: CancelChannel;
  locks: LockKeeper;
  room: RedisRoom;
  processor: JobProcessor;
}

/** What every side of the worker is built on. */
type Basics = Pick<WorkerParts, 'config' | 'log' | 'connections' | 'metrics' | 'gate'>;

/** `runner` replaces Docker's sandboxes (tests); everything else is as in production. */
export function createWorkerService(config: WorkerConfig, log: Logger, runner?: SandboxRunner): WorkerService {
  const parts = buildParts(config, log, runner);
  return {
    workerId: config.workerId,
    metrics: parts.metrics,
    get health() {
      return parts.health.current;
    },
    start: () => start(parts),
    stop: () => stop(parts),
  };
}

function buildParts(config: WorkerConfig, log: Logger, runner: SandboxRunner | undefined): WorkerParts {
  const basics: Basics = {
    config,
    log,
    connections: openRedisConnections(config, log),
    metrics: createWorkerMetrics(),
    gate: new QueueGate(),
  };
  const engineSide = buildEngineSide(basics, runner);
  const queueSide = buildQueueSide({ ...basics, ...engineSide });
  const { metrics, gate } = basics;
  const { outage, health } = engineSide;
  // Usable slots only: a worker that takes no jobs offers the fleet none, whatever its concurrency.
  metrics.readSlotsFrom(() => ({
    busy: queueSide.cancels.size,
    total: gate.open && outage.engineUp && health.ok ? config.concurrency : 0,
  }));
  return { ...basics, ...engineSide, ...queueSide };
}

/** The engine's side: its watch and outage, the sandboxes on it, the self-check of both, the sweeper. */
function buildEngineSide({ config, log, connections, metrics, gate }: Basics, runner: SandboxRunner | undefined) {
  const docker = new Docker({ socketPath: config.dockerSocket });
  const keys = redisKeys(config.prefix);
  const outage = new EngineOutage({ waitMs: config.dockerWaitMs, queue: gate, metrics, log });
  const watch = new DockerWatch(docker, { onDown: () => outage.down(), onUp: () => outage.up() });
  const engineUp = () => outage.engineUp;
  const settings = sandboxSettingsFromConfig(config);
  const sandboxes = new Sandboxes({
    config,
    settings,
    docker,
    ...(runner ? { runner } : {}),
    engineUp,
    engineAnswers: () => watch.check(),
    metrics,
    log,
  });
  const health = new HealthCheck({
    config,
    images: settings.images,
    docker,
    runner: sandboxes.cold,
    serve: (environments) => sandboxes.serve(environments),
    engineUp,
    queue: gate,
    store: { redis: connections.commands, key: keys.workerHealth },
    metrics,
    log,
  });
  outage.listen({ down: () => void health.publish(), up: () => void health.recheck() });
  const sweeper = new LeftoverSweeper({
    docker,
    redis: connections.commands,
    workersKey: keys.workers,
    workerId: config.workerId,
    prefix: config.prefix,
    staleMs: config.workerStaleMs,
    log,
  });
  return { outage, watch, sandboxes, health, sweeper };
}

/** The queue's side: memory-limit handling, cancels, webhooks, the processor, and the heartbeat. */
function buildQueueSide(parts: Basics & Pick<WorkerParts, 'outage' | 'watch' | 'sandboxes' | 'health'>) {
  const { config, log, connections, metrics, gate } = parts;
  const redis = connections.commands;
  const keys = redisKeys(config.prefix);
  const locks = new LockKeeper(redis, {
    bull: bullKeys(config.prefix, config.queueName),
    lockMs: config.lockDurationMs,
    // BullMQ's own renewal period (see openQueueWorker), shared by the keeper.
    everyMs: lockRenewMsFor(config.lockDurationMs),
    onError: (err) => log.warn({ err }, 'could not keep the locks of running jobs while Redis is full'),
  });
  const engineUp = () => parts.outage.engineUp;
  const room = watchMemoryLimit({ redis, locks, queue: gate, health: parts.health, engineUp, log });
  const cancels = new CancelChannel({
    subscriber: connections.cancel,
    channel: keys.cancelChannel,
    flagged: async (jobId) => (await redis.exists(keys.cancelFlag(jobId))) > 0,
  });
  const webhooks = webhookServiceFromConfig(config, log, {
    deliver: async (req) => {
      const outcome = await deliverOnce(req);
      metrics.webhookAttempts.inc({ result: deliveryResult(outcome) });
      return outcome;
    },
  });
  const processor = buildProcessor({ ...parts, room, cancels, webhooks });
  const heartbeat = new Heartbeat(redis, keys.workers, config.workerId, config.heartbeatMs);
  return { locks, room, cancels, webhooks, processor, heartbeat };
}

/** The processor, and the result recorder and tenant slots it works with. */
function buildProcessor(
  parts: Basics & Pick<WorkerParts, 'outage' | 'watch' | 'sandboxes' | 'room' | 'cancels' | 'webhooks'>,
): JobProcessor {
  const { config, log, connections, gate, outage, watch } = parts;
  const redis = connections.commands;
  const keys = redisKeys(config.prefix);
  const recorder = new ResultRecorder({
    results: new ResultStore(redis, {
      ttlSeconds: config.resultTtlSeconds,
      resultKey: keys.result,
      runsKey: keys.runs,
      eventsKey: keys.events,
      inputKeys: (jobId) => [keys.input(jobId), keys.inputState(jobId)],
      judge0Key: keys.judge0,
      bull: bullKeys(config.prefix, config.queueName),
    }),
    storedResult: (jobId) => redis.get(keys.result(jobId)),
    room: parts.room,
    ledger: new StorageLedger(redis, config.prefix, config.resultTtlSeconds),
    confirmReplicated: patientReplicaConfirm(connections.fence ? replicaFenceFor(connections.fence, config) : null, {
      // Past the lock the attempt fails; its retry finds the result and confirms again.
      giveUpAfterMs: config.lockDurationMs,
    }),
    webhooks: parts.webhooks,
    log,
  });
  const slots = new TenantSlots({
    cap: new RunningCap(redis, config.prefix),
    getJob: (id) => gate.jobById(id),
    // Past its watchdog a run is given up; the lock's span covers a retake after its worker died.
    leaseMs: (data) => watchdogMs(data) + config.lockDurationMs,
    onError: (err) => log.warn({ err }, 'could not give back a tenant slot; it ends with its lease'),
  });
  return new JobProcessor({
    workerId: config.workerId,
    dockerWaitMs: config.dockerWaitMs,
    runtime: config.runtime,
    engine: {
      judge: (submittedAt) => outage.judge(submittedAt),
      check: () => watch.check(),
      waitUntilUp: (ms) => watch.waitUntilUp(ms),
    },
    slots,
    fair: new FairQueue(redis, config.prefix, config.queueName, config.interactiveStreak),
    promote: (jobId) => gate.promote(jobId),
    recorder,
    cancels: parts.cancels,
    sandboxes: parts.sandboxes,
    live: liveRuns(config, redis, log),
    metrics: parts.metrics,
    log,
  });
}

/** Where runs tell their viewers they started, and send their output (on the results' connection: see JobEventPublisher). */
function liveRuns(config: WorkerConfig, redis: Redis, log: Logger): LiveRuns {
  const publisher = new JobEventPublisher(redis, {
    eventsKey: redisKeys(config.prefix).events,
    lockKey: bullKeys(config.prefix, config.queueName).lock,
    ttlSeconds: config.resultTtlSeconds,
    log,
  });
  const input = new InputFollower({
    connect: () => redis.duplicate({ connectionName: `${config.prefix}:input` }),
    inputKey: redisKeys(config.prefix).input,
    log,
  });
  return new LiveRuns({
    writerFor: (jobId, token) => publisher.forRun(jobId, token),
    inputOf: (jobId) => input.source(jobId),
    capBytes: config.maxOutputBytes,
  });
}

/**
 * Up in order: the worker announces itself (heartbeat) and listens (webhooks, cancels, OOM events,
 * the engine's watch), clears what dead workers left, and only then runs its self-check. A worker
 * that failed the check stays visible but takes no job: no pools, no queue worker.
 */
async function start(parts: WorkerParts): Promise<void> {
  const { config, log } = parts;
  if (config.runtime !== 'runsc')
    log.warn({ runtime: config.runtime }, 'sandboxes are NOT using gVisor (runsc): user code shares the host kernel');
  await parts.heartbeat.start();
  await parts.webhooks?.start();
  await parts.cancels.start();
  await parts.sandboxes.start();
  parts.watch.start();
  await parts.sweeper.start();
  if (!(await parts.health.selfCheck())) return;
  parts.sandboxes.startPools();
  const { processor, locks } = parts;
  await openQueueWorker({
    config,
    connection: parts.connections.queue,
    lockRenewMs: lockRenewMsFor(config.lockDurationMs),
    // Each job's processor runs with its lock in the keeper's care (kept only while Redis is full).
    process: (job, token, signal) => locks.hold(job.id as string, token, () => processor.process(job, token, signal)),
    onFailed: (job, err) => processor.failed(job, err),
    room: parts.room,
    gate: parts.gate,
    log,
  });
  log.info(
    { concurrency: config.concurrency, runtime: config.runtime, environments: [...parts.sandboxes.served] },
    'worker ready',
  );
}

/**
 * Down in order: no new jobs, in-flight ones finish within SBX_SHUTDOWN_TIMEOUT_MS (or are left to
 * the queue), then the sandboxes go, then the worker's presence, then its connections.
 */
async function stop(parts: WorkerParts): Promise<void> {
  const { gate, locks, log } = parts;
  gate.close();
  parts.sweeper.stop();
  parts.outage.stop();
  parts.watch.stop();
  const worker = gate.current;
  if (worker && !(await within(worker.close(), parts.config.shutdownTimeoutMs))) {
    // Jobs still running now are left to the queue: their locks lapse and another worker retakes them.
    parts.processor.abandon();
    // Their locks lapse even while Redis is full: that is how they go back to the queue.
    locks.stop();
    log.warn('in-flight jobs did not finish in time; they go back to the queue');
    await parts.sweeper.removeOwn();
    // close() is memoised: a second close(true) would only wait on the first. And after a Redis
    // outage BullMQ can keep a job it failed to finish in flight for good, so cut the connections.
    if (!(await within(worker.disconnect(), FORCE_CLOSE_MS))) log.warn('the queue worker did not disconnect');
  }
  // Results still waiting for room give up now, with the queue worker cut off: nothing of theirs
  // reaches Redis, and their jobs are retaken once their locks lapse.
  locks.stop();
  parts.room.close();
  await parts.sandboxes.drain();
  // What a failed removal left (the engine was away when a sandbox was due to go) goes now.
  await parts.sweeper.removeOwn();
  await parts.sweeper.reapOwnForgotten(parts.sandboxes.created);
  parts.sandboxes.close();
  await parts.heartbeat.stop();
  await parts.webhooks?.stop();
  await parts.health.withdraw();
  parts.connections.disconnect();
}

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
