import { RUN_STATUSES } from '@sbx/shared';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Buckets with edges at the default 2 s limit and around a cold gVisor start. */
const SECONDS_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 5, 10, 30];

export function createWorkerMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sbx_worker_' });
  const runs = new Counter({
    name: 'sbx_runs_total',
    help: 'Finished runs by verdict (timeouts, memory_limit OOM kills, ...).',
    labelNames: ['status'],
    registers: [registry],
  });
  for (const status of RUN_STATUSES) runs.inc({ status }, 0);
  return {
    registry,
    runs,
    queueWait: new Histogram({
      name: 'sbx_queue_wait_seconds',
      help: 'From submission to a worker taking the job, by lane.',
      labelNames: ['lane'],
      // A batch backlog is worked off in minutes.
      buckets: [...SECONDS_BUCKETS, 60, 120, 300, 600, 1800],
      registers: [registry],
    }),
    batchPromotions: new Counter({
      name: 'sbx_batch_promotions_total',
      help: 'Batch jobs moved to the front after SBX_INTERACTIVE_STREAK interactive starts in a row.',
      registers: [registry],
    }),
    sandboxStart: new Histogram({
      name: 'sbx_sandbox_start_seconds',
      help: 'Time to acquire a started sandbox, warm or cold.',
      buckets: SECONDS_BUCKETS,
      registers: [registry],
    }),
    runDuration: new Histogram({
      name: 'sbx_run_seconds',
      help: 'Wall time of the user code, by verdict.',
      labelNames: ['status'],
      buckets: SECONDS_BUCKETS,
      registers: [registry],
    }),
    jobDuration: new Histogram({
      name: 'sbx_job_seconds',
      help: 'Whole job on the worker: sandbox start, run, cleanup, result stored.',
      buckets: SECONDS_BUCKETS,
      registers: [registry],
    }),
    poolAcquires: new Counter({
      name: 'sbx_pool_acquires_total',
      help: 'Sandbox acquisitions: hit (a warm one was ready), wait (joined a pool start under way), miss (started cold).',
      labelNames: ['outcome', 'environment'],
      registers: [registry],
    }),
    poolSize: new Gauge({
      name: 'sbx_pool_size',
      help: 'Warm pool sandboxes by environment and state: idle (ready) or starting.',
      labelNames: ['state', 'environment'],
      registers: [registry],
    }),
    poolTarget: new Gauge({
      name: 'sbx_pool_target',
      help: "Sandboxes an environment's warm pool aims to keep: its floor plus recent demand, up to its ceiling.",
      labelNames: ['environment'],
      registers: [registry],
    }),
    webhookAttempts: new Counter({
      name: 'sbx_webhook_attempts_total',
      help: 'Webhook delivery attempts by result: delivered, or the failure kind (http_status, timeout, connection, redirect).',
      labelNames: ['result'],
      registers: [registry],
    }),
    runtimeInfo: new Gauge({
      name: 'sbx_sandbox_runtime_info',
      help: 'Always 1: the runtime this worker found at its self-check (runsc release, gVisor platform, directfs).',
      labelNames: ['runtime', 'release', 'platform', 'directfs'],
      registers: [registry],
    }),
    dockerUp: new Gauge({
      name: 'sbx_docker_up',
      help: '1 while the Docker engine answers the worker, 0 while it does not (no jobs are taken then).',
      registers: [registry],
    }),
    dockerOutages: new Counter({
      name: 'sbx_docker_outages_total',
      help: 'Times the Docker engine stopped answering the worker.',
      registers: [registry],
    }),
    infraFailures: new Counter({
      name: 'sbx_sandbox_failures_total',
      help: 'Sandboxes that failed to start or run (retried by the queue).',
      registers: [registry],
    }),
  };
}
export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
