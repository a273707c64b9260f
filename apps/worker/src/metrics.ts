import { LANES, RUN_STATUSES } from '@sbx/shared';
import { DELIVERY_RESULTS } from '@sbx/webhooks';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Buckets with edges at the default 2 s limit and around a cold gVisor start. */
const SECONDS_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 5, 10, 30];

type SlotReader = () => { busy: number; total: number };

/** What jobs did: verdicts, waits, durations, and the webhooks they sent. */
function jobMetrics(registry: Registry) {
  const registers = [registry];
  const runs = new Counter({
    name: 'sbx_runs_total',
    help: 'Finished runs by verdict (timeouts, memory_limit OOM kills, ...).',
    labelNames: ['status'],
    registers,
  });
  for (const status of RUN_STATUSES) runs.inc({ status }, 0);
  const webhookAttempts = new Counter({
    name: 'sbx_webhook_attempts_total',
    help: 'Webhook delivery attempts by result: delivered, or the failure kind (http_status, timeout, connection, redirect).',
    labelNames: ['result'],
    registers,
  });
  // Zeros for the known results: a failure ratio over a worker that never failed still has a denominator.
  for (const result of DELIVERY_RESULTS) webhookAttempts.inc({ result }, 0);
  const queueWait = new Histogram({
    name: 'sbx_queue_wait_seconds',
    help: 'From submission to a worker taking the job, by lane.',
    labelNames: ['lane'],
    // A batch backlog is worked off in minutes.
    buckets: [...SECONDS_BUCKETS, 60, 120, 300, 600, 1800],
    registers,
  });
  for (const lane of LANES) queueWait.zero({ lane });
  return {
    runs,
    webhookAttempts,
    queueWait,
    batchPromotions: new Counter({
      name: 'sbx_batch_promotions_total',
      help: 'Batch jobs moved to the front after SBX_INTERACTIVE_STREAK interactive starts in a row.',
      registers,
    }),
    runDuration: new Histogram({
      name: 'sbx_run_seconds',
      help: 'Wall time of the user code, by verdict.',
      labelNames: ['status'],
      buckets: SECONDS_BUCKETS,
      registers,
    }),
    jobDuration: new Histogram({
      name: 'sbx_job_seconds',
      help: 'Whole job on the worker: sandbox start, run, cleanup, result stored.',
      buckets: SECONDS_BUCKETS,
      registers,
    }),
  };
}

/** Sandboxes: how long they take to get, and the warm pools that hold them. */
function sandboxMetrics(registry: Registry) {
  const registers = [registry];
  return {
    sandboxStart: new Histogram({
      name: 'sbx_sandbox_start_seconds',
      help: 'Time to acquire a started sandbox, warm or cold.',
      buckets: SECONDS_BUCKETS,
      registers,
    }),
    poolAcquires: new Counter({
      name: 'sbx_pool_acquires_total',
      help: 'Sandbox acquisitions: hit (a warm one was ready), wait (joined a pool start under way), miss (started cold).',
      labelNames: ['outcome', 'environment'],
      registers,
    }),
    poolSize: new Gauge({
      name: 'sbx_pool_size',
      help: 'Warm pool sandboxes by environment and state: idle (ready) or starting.',
      labelNames: ['state', 'environment'],
      registers,
    }),
    poolTarget: new Gauge({
      name: 'sbx_pool_target',
      help: "Sandboxes an environment's warm pool aims to keep: its floor plus recent demand, up to its ceiling.",
      labelNames: ['environment'],
      registers,
    }),
    poolCeiling: new Gauge({
      name: 'sbx_pool_ceiling',
      help: "Most sandboxes an environment's warm pool keeps: SBX_POOL_MAX, or fewer where its memory budget (SBX_POOL_MEMORY_MB) holds fewer.",
      labelNames: ['environment'],
      registers,
    }),
    checkpointState: new Gauge({
      name: 'sbx_sandbox_checkpoint_state',
      help: "How an environment's pooled sandboxes start: 1 on the current state, restore (from a checkpoint) or the reason they start cold (off, not_experimental, no_docker_root, build_failed, restore_failed).",
      labelNames: ['environment', 'state'],
      registers,
    }),
    restores: new Counter({
      name: 'sbx_sandbox_restores_total',
      help: 'Sandboxes restored from a checkpoint (restored), and restores that failed (failed: that sandbox and its environment start cold).',
      labelNames: ['environment', 'outcome'],
      registers,
    }),
    infraFailures: new Counter({
      name: 'sbx_sandbox_failures_total',
      help: 'Sandboxes that failed to start or run (retried by the queue).',
      registers,
    }),
  };
}

/** A gauge read at scrape time; left as it was while `read` has nothing (before the service exists). */
function slotGauge(registers: Registry[], name: string, help: string, read: () => number | undefined) {
  return new Gauge({
    name,
    help,
    registers,
    collect() {
      const value = read();
      if (value !== undefined) this.set(value);
    },
  });
}

/** Whether this worker can take jobs: its slots, its self-check, its runtime and the Docker engine. */
function capacityMetrics(registry: Registry, slots: () => SlotReader | null) {
  const registers = [registry];
  return {
    slotsBusy: slotGauge(
      registers,
      'sbx_slots_busy',
      'Jobs this worker is running now (of sbx_slots_total): busy / total across the fleet is the scaling signal.',
      () => slots()?.().busy,
    ),
    slotsTotal: slotGauge(
      registers,
      'sbx_slots_total',
      'Jobs this worker can run at once while it takes jobs (its concurrency); 0 while it takes none (self-check failed, Docker away, stopping).',
      () => slots()?.().total,
    ),
    selfCheckOk: new Gauge({
      name: 'sbx_self_check_ok',
      // 0 from the start: a check that never finishes must alert like one that failed.
      help: "1 once this worker's sandbox self-check passed (or is switched off); 0 while it runs and after it failed: no jobs are taken then.",
      registers,
    }),
    runtimeInfo: new Gauge({
      name: 'sbx_sandbox_runtime_info',
      help: 'Always 1: the runtime this worker found at its self-check (runsc release, gVisor platform, directfs).',
      labelNames: ['runtime', 'release', 'platform', 'directfs'],
      registers,
    }),
    dockerUp: new Gauge({
      name: 'sbx_docker_up',
      help: '1 while the Docker engine answers the worker, 0 while it does not (no jobs are taken then).',
      registers,
    }),
    dockerOutages: new Counter({
      name: 'sbx_docker_outages_total',
      help: 'Times the Docker engine stopped answering the worker.',
      registers,
    }),
  };
}

export function createWorkerMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sbx_worker_' });
  let slots: SlotReader | null = null;
  return {
    registry,
    /** Where the slot gauges read from: set once the worker service exists. */
    readSlotsFrom(read: SlotReader) {
      slots = read;
    },
    ...jobMetrics(registry),
    ...sandboxMetrics(registry),
    ...capacityMetrics(registry, () => slots),
  };
}
export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
