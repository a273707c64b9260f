/**
 * The job processor's paths with fakes for everything it is handed (engine, slots, fair queue,
 * recorder, sandboxes) and the real cancel channel on a fake subscriber: no Redis, no Docker.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { internalErrorResult, type JobData, type RunResult } from '@sbx/shared';
import {
  CancelChannel,
  createWorkerMetrics,
  type EngineVerdict,
  type FailedJob,
  JobProcessor,
  type JobProcessorContext,
  type TakenJob,
} from '@sbx/worker';
import { DelayedError } from 'bullmq';
import { pino } from 'pino';

const data: JobData = {
  code: 'print(1)',
  stdin: '',
  limits: { time_ms: 2000, memory_mb: 128 },
  policy: 'strict',
  submitted_at: new Date().toISOString(),
  request_id: 'req-1',
  tenant_id: 'acme',
  lane: 'batch',
  round: 3,
};

const okResult = (id: string): RunResult => ({ ...internalErrorResult(id, data, ''), status: 'ok', stdout: '1\n' });

/** A job as BullMQ hands it over: `moves` records where it was sent back to wait. */
function takenJob(counts: { attemptsMade?: number; stalledCounter?: number } = {}) {
  const moves: { at: number; token: string | undefined }[] = [];
  const job: TakenJob = {
    id: 'job-1',
    data,
    priority: 1,
    timestamp: Date.now(),
    attemptsMade: counts.attemptsMade ?? 0,
    stalledCounter: counts.stalledCounter ?? 0,
    moveToDelayed: async (at: number, token?: string) => {
      moves.push({ at, token });
    },
  };
  return { job, moves };
}

interface Setup {
  verdict?: EngineVerdict;
  /** The tenant has a free slot. Default true. */
  slot?: boolean;
  /** The status of a result stored by an earlier run. */
  stored?: RunResult['status'];
  /** The job's cancel flag is set. */
  flagged?: boolean;
  execute?: (signal: AbortSignal) => Promise<RunResult>;
  engineAnswers?: boolean;
  promote?: string;
}

/** A processor on fakes; `events` is what happened to the job, in order, and `recorded` what it stored. */
function processor(setup: Setup = {}) {
  const events: string[] = [];
  const recorded: { result: RunResult; token: string | undefined }[] = [];
  const subscriber = Object.assign(new EventEmitter(), { subscribe: async () => 1 });
  const cancels = new CancelChannel({ subscriber, channel: 'cancel', flagged: async () => setup.flagged ?? false });
  const metrics = createWorkerMetrics();
  const ctx: JobProcessorContext = {
    workerId: 'w1',
    dockerWaitMs: 60_000,
    runtime: 'runsc',
    engine: {
      judge: () => setup.verdict ?? 'run',
      check: async () => setup.engineAnswers ?? true,
      waitUntilUp: async (ms) => {
        events.push(`wait for engine ${ms}`);
        return false;
      },
    },
    slots: {
      enter: async () => {
        events.push('slot?');
        return setup.slot ?? true;
      },
      leave: async () => {
        events.push('slot left');
      },
    },
    fair: {
      started: async (job) => {
        events.push(`started ${job.tenantId} ${job.lane} ${job.round}`);
        return setup.promote ?? null;
      },
    },
    promote: async (id) => {
      events.push(`promote ${id}`);
      return true;
    },
    recorder: {
      record: async (result, _data, token) => {
        recorded.push({ result, token });
        return 'stored';
      },
      alreadyRecorded: async () => (setup.stored ? { status: setup.stored } : null),
      runStarted: () => events.push('run logged'),
    },
    cancels,
    sandboxes: {
      execute: async (jobId, _data, run) => {
        events.push('executed');
        return setup.execute ? setup.execute(run.signal) : okResult(jobId);
      },
      jobStarted: () => events.push('busy'),
      jobEnded: () => events.push('quiet'),
    },
    live: {
      start: (_jobId, run) => {
        events.push(`live from attempt ${run.attempt}`);
        return { output: { write: () => {} }, end: () => events.push('live ended') };
      },
    },
    metrics,
    log: pino({ level: 'silent' }),
  };
  return { p: new JobProcessor(ctx), events, recorded, metrics, subscriber, cancels };
}

const runs = async (metrics: ReturnType<typeof createWorkerMetrics>, status: string) =>
  (await metrics.runs.get()).values.find((v) => v.labels.status === status)?.value;

test('engine away and the job young: back to wait in a second, no attempt spent, nothing run or stored', async () => {
  const { p, events, recorded } = processor({ verdict: 'wait' });
  const { job, moves } = takenJob();
  const before = Date.now();
  await assert.rejects(p.process(job, 'tok'), DelayedError);
  assert.equal(moves.length, 1);
  assert.equal(moves[0]?.token, 'tok');
  assert.ok((moves[0]?.at ?? 0) >= before + 1000, 'looked at again after DOCKER_RETRY_MS');
  assert.deepEqual(events, [], 'no slot taken, not started');
  assert.deepEqual(recorded, []);
});

test('engine away and the job waited out: internal_error stored, naming the wait, without a run', async () => {
  const { p, events, recorded, metrics } = processor({ verdict: 'fail' });
  const { job } = takenJob({ attemptsMade: 1 });
  assert.deepEqual(await p.process(job, 'tok'), { status: 'internal_error' });
  assert.deepEqual(events, ['slot?', 'started acme batch 3', 'slot left']);
  const [stored] = recorded;
  assert.equal(stored?.token, 'tok', 'fenced by the lock');
  assert.equal(stored?.result.status, 'internal_error');
  assert.match(
    stored?.result.message ?? '',
    /no Docker engine answered within 60 s of the job being queued \(worker w1\)/,
  );
  assert.equal(stored?.result.attempts, 2);
  assert.equal(stored?.result.run?.worker, 'w1');
  assert.equal(await runs(metrics, 'internal_error'), 1);
});

test('a result stored by an earlier run: returned as it is, never run again', async () => {
  const { p, events, recorded, cancels } = processor({ stored: 'timeout' });
  const { job } = takenJob({ stalledCounter: 1 });
  assert.deepEqual(await p.process(job, 'tok'), { status: 'timeout' });
  assert.deepEqual(events, ['slot?', 'started acme batch 3', 'slot left']);
  assert.deepEqual(recorded, []);
  assert.equal(cancels.size, 0);
});

test('the cancel flag set before the job was taken: cancelled is stored, nothing runs', async () => {
  const { p, events, recorded, cancels } = processor({ flagged: true });
  const { job } = takenJob();
  assert.deepEqual(await p.process(job, 'tok'), { status: 'cancelled' });
  assert.deepEqual(events, ['slot?', 'started acme batch 3', 'busy', 'quiet', 'slot left']);
  assert.equal(recorded[0]?.result.status, 'cancelled');
  assert.equal(recorded[0]?.token, 'tok');
  assert.equal(cancels.size, 0, 'untracked once done');
});

test('a normal run: executed, its result stored with its attempt and run, the metrics counted', async () => {
  const { p, events, recorded, metrics } = processor();
  const { job } = takenJob({ attemptsMade: 1, stalledCounter: 1 });
  assert.deepEqual(await p.process(job, 'tok'), { status: 'ok' });
  assert.deepEqual(events, [
    'slot?',
    'started acme batch 3',
    'busy',
    'run logged',
    'live from attempt 3',
    'executed',
    'live ended',
    'quiet',
    'slot left',
  ]);
  const [stored] = recorded;
  assert.equal(stored?.token, 'tok');
  assert.equal(stored?.result.stdout, '1\n');
  assert.equal(stored?.result.attempts, 3, 'two runs before this one');
  assert.equal(stored?.result.run?.attempt, 3);
  assert.equal(stored?.result.run?.finished_at, stored?.result.finished_at);
  assert.equal(await runs(metrics, 'ok'), 1);
});

test('a cancel published while the job runs aborts its run', async () => {
  const { p, subscriber } = processor({
    execute: (signal) =>
      new Promise((resolve) =>
        signal.addEventListener('abort', () => resolve({ ...okResult('job-1'), status: 'cancelled' })),
      ),
  });
  const { job } = takenJob();
  const running = p.process(job, 'tok');
  await new Promise((r) => setImmediate(r));
  subscriber.emit('message', 'cancel', 'another-job');
  subscriber.emit('message', 'cancel', 'job-1');
  assert.deepEqual(await running, { status: 'cancelled' });
});

test('the tenant at its cap: parked, no attempt spent, its slot not given back (it holds none)', async () => {
  const { p, events, recorded } = processor({ slot: false });
  const { job } = takenJob();
  await assert.rejects(p.process(job, 'tok'), DelayedError);
  assert.deepEqual(events, ['slot?']);
  assert.deepEqual(recorded, []);
});

test('a sandbox that fails: retried by the queue, after waiting for an engine that stopped answering', async () => {
  const { p, events, recorded, metrics } = processor({
    engineAnswers: false,
    execute: async () => {
      throw new Error('sandbox would not start');
    },
  });
  const { job } = takenJob();
  await assert.rejects(p.process(job, 'tok'), /sandbox would not start/);
  assert.ok(events.includes('wait for engine 60000'));
  assert.deepEqual(events.slice(-2), ['quiet', 'slot left']);
  assert.deepEqual(recorded, []);
  assert.equal((await metrics.infraFailures.get()).values[0]?.value, 1);
});

test('a run that ends after shutdown gave up on it is not recorded: its job is retried', async () => {
  const { p, recorded } = processor({
    execute: async () => {
      p.abandon();
      return okResult('job-1');
    },
  });
  await assert.rejects(p.process(takenJob().job, 'tok'), /worker shut down mid-run/);
  assert.deepEqual(recorded, []);
});

test('a batch job due at the front is promoted, and counted', async () => {
  const { p, events, metrics } = processor({ promote: 'batch-9' });
  await p.process(takenJob().job, 'tok');
  assert.ok(events.includes('promote batch-9'));
  await new Promise((r) => setImmediate(r));
  assert.equal((await metrics.batchPromotions.get()).values[0]?.value, 1);
});

test('failed: only a job failed for good gets an internal_error result, unfenced', async () => {
  const { p, recorded, metrics } = processor();
  const failed = (finishedOn?: number): FailedJob => ({
    id: 'job-1',
    data,
    attemptsMade: 3,
    stalledCounter: 0,
    ...(finishedOn ? { finishedOn } : {}),
  });
  p.failed(failed(), new Error('retried'));
  p.failed(undefined, new Error('no job'));
  assert.equal(recorded.length, 0, 'a retried attempt is not the end');
  p.failed(failed(Date.now()), new Error('sandbox would not start'));
  await new Promise((r) => setImmediate(r));
  assert.equal(recorded[0]?.token, undefined);
  assert.equal(recorded[0]?.result.message, 'the job could not be run: sandbox would not start');
  assert.equal(recorded[0]?.result.attempts, 3);
  assert.equal(await runs(metrics, 'internal_error'), 1);
});
