import { type JobData, promoteToFront, type RedisRoom, type WorkerConfig } from '@sbx/shared';
import { Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** What a processed job returns to BullMQ (its return value): the status of its result. */
export interface JobOutcome {
  status: string;
}

export type QueueWorker = Worker<JobData, JobOutcome>;

/**
 * The BullMQ worker, once start() has made one (after the self-check passed), and whether the
 * service is stopping. The parts that pause and resume the taking of jobs (the engine outage, Redis
 * at its memory limit, the self-check) go through this: before there is a worker they do nothing.
 */
export class QueueGate {
  private worker: QueueWorker | undefined;
  private stopping = false;

  attach(worker: QueueWorker): void {
    this.worker = worker;
  }

  get current(): QueueWorker | undefined {
    return this.worker;
  }

  /** Set first thing in stop(): nothing resumes the worker from then on. */
  get closing(): boolean {
    return this.stopping;
  }

  close(): void {
    this.stopping = true;
  }

  /** There is a worker and the service is not stopping: jobs are taken unless something paused it. */
  get open(): boolean {
    return this.worker !== undefined && !this.stopping;
  }

  get paused(): boolean {
    return this.worker?.isPaused() ?? false;
  }

  /** Takes no new job; running ones go on (BullMQ's pause without waiting for them). */
  pause(): Promise<void> {
    return this.worker?.pause(true) ?? Promise.resolve();
  }

  resume(): void {
    this.worker?.resume();
  }

  /** A job of the queue by id; undefined when it is gone, or before there is a worker. */
  async jobById(id: string): Promise<Job<JobData> | undefined> {
    return this.worker ? Job.fromId<JobData>(this.worker, id) : undefined;
  }

  /** Moves a waiting job to the front (see promoteToFront); false when it left the queue first. */
  promote(id: string): Promise<boolean> {
    return promoteToFront((jobId) => this.jobById(jobId), id);
  }
}

export interface QueueWorkerOptions {
  config: Pick<
    WorkerConfig,
    'queueName' | 'prefix' | 'concurrency' | 'lockDurationMs' | 'stalledIntervalMs' | 'workerId'
  >;
  /** The worker's own connection (WorkerConnections.queue). */
  connection: Redis;
  /** BullMQ's lock renewal period; the lock keeper renews on the same one. */
  lockRenewMs: number;
  process: (job: Job<JobData>, token: string | undefined, signal?: AbortSignal) => Promise<JobOutcome>;
  /** A job BullMQ failed (a retried attempt too: see JobProcessor.failed). */
  onFailed: (job: Job<JobData> | undefined, err: Error) => void;
  /** Learns from the worker's errors whether Redis is at its memory limit. */
  room: Pick<RedisRoom, 'refused'>;
  gate: QueueGate;
  log: Pick<Logger, 'error'>;
}

/** Starts the BullMQ worker that takes the queue's jobs, attached to the gate, and waits until it is ready. */
export async function openQueueWorker(opts: QueueWorkerOptions): Promise<QueueWorker> {
  const { config, gate } = opts;
  const worker = new Worker<JobData, JobOutcome>(config.queueName, opts.process, {
    connection: opts.connection,
    prefix: config.prefix,
    concurrency: config.concurrency,
    lockDuration: config.lockDurationMs,
    // Renewed every quarter of the lock rather than BullMQ's half: a worker starved of CPU (or a
    // slow Redis) then keeps its jobs through a stall of three quarters of the lock, not one half.
    // A lapsed lock costs a rerun, and a job that lapses three times is failed as stalled.
    lockRenewTime: opts.lockRenewMs,
    stalledInterval: config.stalledIntervalMs,
    // A job whose worker dies twice is failed rather than retried forever; the API reports it as internal_error.
    maxStalledCount: 2,
    name: config.workerId,
  });
  gate.attach(worker);
  worker.on('failed', opts.onFailed);
  worker.on('error', (err) => {
    // At the memory limit BullMQ's calls are refused over and over: the spell is logged once (onFull),
    // and the worker stays paused even if something resumed it meanwhile.
    if (!opts.room.refused(err)) return opts.log.error({ err }, 'queue worker error');
    if (!gate.paused) void gate.pause();
  });
  await worker.waitUntilReady();
  return worker;
}

/** BullMQ's lock renewal period for a lock duration: a quarter of it (see openQueueWorker), at least 250 ms. */
export const lockRenewMsFor = (lockDurationMs: number): number => Math.max(250, Math.floor(lockDurationMs / 4));
