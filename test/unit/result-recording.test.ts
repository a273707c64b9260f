/** How a worker builds and records results: pure builders, and the recorder on fakes (no Redis). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { internalErrorResult, type JobData, ReplicationShortError, type RunResult } from '@sbx/shared';
import {
  cancelledRunResult,
  engineAwayResult,
  failedForGoodResult,
  finishedResult,
  patientReplicaConfirm,
  ResultRecorder,
  runStart,
  runsBefore,
} from '@sbx/worker';
import { pino } from 'pino';

const data: JobData = {
  code: 'print(1)',
  stdin: '',
  limits: { time_ms: 2000, memory_mb: 128 },
  policy: 'standard',
  environment: 'python',
  submitted_at: '2025-01-01T00:00:00.000Z',
  request_id: 'req-1',
  tenant_id: 'acme',
  callback_url: 'https://example.com/hook',
};

test('runs before this one count failed attempts and runs whose worker died', () => {
  assert.equal(runsBefore({ attemptsMade: 0 }), 0);
  assert.equal(runsBefore({ attemptsMade: 1, stalledCounter: 2 }), 3);
  const run = runStart('w1', { attemptsMade: 1, stalledCounter: 1 }, new Date('2025-01-01T00:00:01.000Z'));
  assert.deepEqual(run, { worker: 'w1', attempt: 3, started_at: '2025-01-01T00:00:01.000Z' });
});

test("a finished run's result carries its attempt and its run's evidence, finished when the result was", () => {
  const run = runStart('w1', { attemptsMade: 1 });
  const result: RunResult = { ...internalErrorResult('j', data, ''), status: 'ok', stdout: 'hi\n' };
  const stored = finishedResult(result, run);
  assert.equal(stored.attempts, 2);
  assert.deepEqual(stored.run, { ...run, finished_at: result.finished_at });
  assert.equal(stored.stdout, 'hi\n');
});

test('results of jobs that never ran: waited out the engine, failed for good, cancelled', () => {
  const run = runStart('w1', { attemptsMade: 0 });
  const away = engineAwayResult('j', data, run, { waitMs: 90_000, workerId: 'w1' });
  assert.equal(away.status, 'internal_error');
  assert.equal(
    away.message,
    'the job could not be run: no Docker engine answered within 90 s of the job being queued (worker w1)',
  );
  assert.equal(away.attempts, 1);
  assert.equal(away.run?.worker, 'w1');
  assert.equal(away.environment, 'python');
  const failed = failedForGoodResult('j', data, { attemptsMade: 2, stalledCounter: 1 }, 'job stalled');
  assert.equal(failed.attempts, 3, 'every run it had, counted after the last');
  assert.equal(failed.run, undefined, 'no run of this worker made it');
  const cancelled = cancelledRunResult('j', data, run);
  assert.equal(cancelled.status, 'cancelled');
  assert.equal(cancelled.run?.attempt, 1);
});

/** A recorder on fakes; `calls` is what it did, in order. */
function recorder(outcome: 'stored' | 'superseded', opts: { stored?: string | null; refusals?: number } = {}) {
  const calls: string[] = [];
  let refusals = opts.refusals ?? 0;
  const r = new ResultRecorder({
    results: {
      store: async (_result, token, receipt) => {
        calls.push(`store token=${token} receipt=${receipt ? Object.keys(receipt).includes('code') : 'none'}`);
        return outcome;
      },
      started: async () => {
        throw new Error('Redis is away');
      },
    },
    storedResult: async () => opts.stored ?? null,
    room: {
      retrying: async (work) => {
        for (;;) {
          if (refusals-- > 0) {
            calls.push('waited for room');
            continue;
          }
          return work();
        }
      },
    },
    ledger: {
      add: async (tenant, bytes) => {
        calls.push(`quota ${tenant} ${bytes > 0}`);
      },
    },
    confirmReplicated: async () => {
      calls.push('replicated');
    },
    webhooks: {
      enqueue: async (id, url, payload, signer) => {
        calls.push(`webhook ${id} ${url} ${signer} ${typeof payload}`);
      },
    },
    log: pino({ level: 'silent' }),
  });
  return { r, calls };
}

test('a stored result is counted against its tenant, confirmed on the replicas, then its webhook queued', async () => {
  const { r, calls } = recorder('stored', { refusals: 1 });
  const result: RunResult = { ...internalErrorResult('j', data, ''), status: 'ok' };
  assert.equal(await r.record(result, data, 'tok'), 'stored');
  assert.deepEqual(calls, [
    'waited for room',
    'store token=tok receipt=false',
    'quota acme true',
    'replicated',
    'webhook j https://example.com/hook acme object',
  ]);
});

test('a result not stored (another run stored first) is not counted and sends no webhook, but is confirmed', async () => {
  const { r, calls } = recorder('superseded');
  assert.equal(await r.record({ ...internalErrorResult('j', data, ''), status: 'ok' }, data), 'superseded');
  assert.deepEqual(calls, ['store token=undefined receipt=false', 'replicated']);
});

test("an earlier run's result: its status, confirmed on the replicas again; none: null, nothing confirmed", async () => {
  const stored = recorder('stored', { stored: JSON.stringify({ status: 'timeout' }) });
  assert.deepEqual(await stored.r.alreadyRecorded('j'), { status: 'timeout' });
  assert.deepEqual(stored.calls, ['replicated']);
  const none = recorder('stored');
  assert.equal(await none.r.alreadyRecorded('j'), null);
  assert.deepEqual(none.calls, []);
  // The run log is evidence only: a Redis away does not stop the run.
  none.r.runStarted('j', runStart('w1', { attemptsMade: 0 }));
});

test('the replica confirm is patient through a failover, up to its bound', async () => {
  assert.equal(await patientReplicaConfirm(null, { giveUpAfterMs: 0 })(), undefined, 'no fence: nothing to wait for');
  let tries = 0;
  const short = {
    confirm: async () => {
      tries += 1;
      if (tries < 3) throw new ReplicationShortError(0, 1, 10);
    },
  };
  await patientReplicaConfirm(short, { giveUpAfterMs: 5000 })();
  assert.equal(tries, 3, 'short twice, then confirmed');
  const refused = {
    confirm: async () => {
      throw new Error('connect ECONNREFUSED');
    },
  };
  const started = Date.now();
  await assert.rejects(patientReplicaConfirm(refused, { giveUpAfterMs: 50, pauseMs: 10 })(), /ECONNREFUSED/);
  assert.ok(Date.now() - started >= 50, 'kept trying up to the bound');
});
