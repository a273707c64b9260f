/**
 * The webhook delivery's parts with fakes: the per-job processor's paths (superseded, refused,
 * delivered, failed, final, Retry-After), the failed-job backstop, one guarded and signed attempt,
 * and the state store's parsing on a fake HGETALL. No Redis, no network; the store's Lua scripts
 * are covered against real Redis by test/redis/webhooks.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DeliveryAttemptError,
  type DeliveryJobData,
  type DeliveryOutcome,
  DeliveryProcessor,
  type DeliveryProcessorContext,
  type DeliveryRequest,
  type DeliveryStateRedis,
  DeliveryStateStore,
  deliveryAttempt,
  deliveryBackoff,
  generateWebhookSecret,
  type PendingDelivery,
  parseDeliveryState,
  type SignedDelivery,
  verifyWebhook,
  WebhookTargetError,
} from '@sbx/webhooks';
import { UnrecoverableError } from 'bullmq';
import { pino } from 'pino';

const SECRET = generateWebhookSecret();
const TENANT_SECRET = generateWebhookSecret();
const DATA: DeliveryJobData = { jobId: 'job-1', webhookId: 'msg_job-1' };

const outcome = (over: Partial<DeliveryOutcome>): DeliveryOutcome => ({
  ok: false,
  status: null,
  retryAfterMs: null,
  error: null,
  durationMs: 3,
  responseBytes: 0,
  ...over,
});

interface Recorded {
  jobId: string;
  webhookId: string;
  increment: number;
  fields: Record<string, string>;
}

interface Setup {
  /** What the store holds for the job's current delivery; null when superseded, finished or expired. */
  pending?: PendingDelivery | null;
  /** The attempt's answer, or what it throws. */
  attempt?: (delivery: SignedDelivery) => Promise<DeliveryOutcome>;
  maxAttempts?: number;
}

function setup(s: Setup = {}) {
  const records: Recorded[] = [];
  const attempts: SignedDelivery[] = [];
  const bindings: Record<string, unknown>[] = [];
  const pending =
    s.pending === undefined ? { url: 'https://hooks.example/x', body: '{}', signer: undefined } : s.pending;
  const log = pino({ level: 'silent' });
  const ctx: DeliveryProcessorContext = {
    store: {
      pending: async () => pending,
      record: async (jobId, webhookId, increment, fields) => {
        records.push({ jobId, webhookId, increment, fields });
        return true;
      },
    },
    attempt: async (delivery) => {
      attempts.push(delivery);
      return (s.attempt ?? (async () => outcome({ ok: true, status: 204, error: null })))(delivery);
    },
    maxAttempts: s.maxAttempts ?? 3,
    secret: SECRET,
    secretFor: (signer) => (signer === 'acme' ? TENANT_SECRET : undefined),
    log: {
      child: (b) => {
        bindings.push(b);
        return log.child(b);
      },
    },
  };
  return { processor: new DeliveryProcessor(ctx), records, attempts, bindings };
}

const job = (attemptsMade = 0) => ({ data: DATA, attemptsMade });

test('a superseded, finished or expired delivery is skipped: no attempt, nothing recorded', async () => {
  const { processor, records, attempts } = setup({ pending: null });
  assert.deepEqual(await processor.process(job()), { skipped: true });
  assert.equal(attempts.length, 0);
  assert.equal(records.length, 0);
});

test('a 2xx records the delivery as delivered, at the time of the attempt', async () => {
  const { processor, records, attempts, bindings } = setup();
  assert.deepEqual(await processor.process(job(1)), { skipped: false, status: 204 });
  assert.deepEqual(attempts, [{ url: 'https://hooks.example/x', body: '{}', webhookId: 'msg_job-1', secret: SECRET }]);
  assert.equal(records.length, 1);
  const [r] = records;
  assert.equal(r?.jobId, 'job-1');
  assert.equal(r?.webhookId, 'msg_job-1');
  assert.equal(r?.increment, 1);
  assert.equal(r?.fields.state, 'delivered');
  assert.equal(r?.fields.last_status, '204');
  assert.equal(r?.fields.last_error, '');
  assert.ok(r?.fields.delivered_at);
  assert.equal(r?.fields.delivered_at, r?.fields.last_attempt_at);
  assert.deepEqual(bindings, [{ job: 'job-1', webhook_id: 'msg_job-1', attempt: 2 }]);
});

test('a refused target fails the delivery for good: failed state and an UnrecoverableError', async () => {
  const { processor, records } = setup({
    attempt: async () => {
      throw new WebhookTargetError('forbidden_address', '10.0.0.1 is a private address; webhooks may not reach it');
    },
  });
  await assert.rejects(processor.process(job()), (err) => {
    assert.ok(err instanceof UnrecoverableError);
    assert.match(err.message, /^forbidden_address: 10\.0\.0\.1 is a private address/);
    return true;
  });
  assert.equal(records.length, 1);
  assert.equal(records[0]?.increment, 1);
  assert.equal(records[0]?.fields.state, 'failed');
  assert.equal(records[0]?.fields.last_status, '');
  assert.match(records[0]?.fields.last_error ?? '', /^forbidden_address: /);
  assert.ok(records[0]?.fields.last_attempt_at);
});

test('a failed attempt before the last stays pending, counts the attempt and throws for a retry', async () => {
  const { processor, records } = setup({
    attempt: async () => outcome({ status: 500, error: 'http_status: 500' }),
    maxAttempts: 3,
  });
  await assert.rejects(processor.process(job(1)), (err) => {
    assert.ok(err instanceof DeliveryAttemptError);
    assert.equal(err.message, 'http_status: 500');
    assert.equal(err.retryAfterMs, null);
    return true;
  });
  assert.equal(records.length, 1);
  assert.equal(records[0]?.increment, 1);
  assert.deepEqual(
    { ...records[0]?.fields, last_attempt_at: undefined },
    {
      state: 'pending',
      last_status: '500',
      last_error: 'http_status: 500',
      last_attempt_at: undefined,
    },
  );
});

test('the last allowed attempt failing ends the delivery failed; no status is recorded as empty', async () => {
  const { processor, records } = setup({
    attempt: async () => outcome({ status: null, error: 'connection: ECONNREFUSED' }),
    maxAttempts: 3,
  });
  await assert.rejects(processor.process(job(2)), DeliveryAttemptError);
  assert.equal(records[0]?.fields.state, 'failed');
  assert.equal(records[0]?.fields.last_status, '');
  assert.equal(records[0]?.fields.last_error, 'connection: ECONNREFUSED');
});

test("the receiver's Retry-After travels on the error to the backoff strategy", async () => {
  const { processor } = setup({
    attempt: async () => outcome({ status: 429, error: 'http_status: 429', retryAfterMs: 7000 }),
  });
  const err = await processor.process(job()).then(
    () => assert.fail('a 429 must throw'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof DeliveryAttemptError);
  assert.equal(err.retryAfterMs, 7000);
  const backoff = deliveryBackoff({ baseDelayMs: 10, maxDelayMs: 60_000 });
  assert.equal(await backoff(1, 'sbx-webhook', err), 7000);
  // Capped by the schedule's ceiling, and only a DeliveryAttemptError carries one.
  assert.equal(await deliveryBackoff({ baseDelayMs: 10, maxDelayMs: 5000 })(1, 'sbx-webhook', err), 5000);
  assert.ok((await backoff(1, 'sbx-webhook', new Error('other'))) <= 10);
});

test("a signer's own secret signs its deliveries; an unknown or absent signer falls back to the service's", async () => {
  for (const [signer, secret] of [
    ['acme', TENANT_SECRET],
    ['unknown', SECRET],
    [undefined, SECRET],
  ] as const) {
    const { processor, attempts } = setup({ pending: { url: 'https://hooks.example/x', body: '{}', signer } });
    await processor.process(job());
    assert.equal(attempts[0]?.secret, secret, `signer ${signer}`);
  }
});

test('an unexpected error from the attempt is thrown as it is, and nothing is recorded', async () => {
  const boom = new Error('boom');
  const { processor, records } = setup({
    attempt: async () => {
      throw boom;
    },
  });
  await assert.rejects(processor.process(job()), (err) => err === boom);
  assert.equal(records.length, 0);
});

test('the failed-job backstop records failure only for a job that really ended failed, without counting an attempt', async () => {
  const { processor, records } = setup();
  await processor.jobFailed({ data: DATA, getState: async () => 'delayed' }, new Error('retrying'));
  assert.equal(records.length, 0);
  await processor.jobFailed(
    { data: DATA, getState: async () => 'failed' },
    new Error('job stalled more than allowable limit'),
  );
  assert.deepEqual(records, [
    {
      jobId: 'job-1',
      webhookId: 'msg_job-1',
      increment: 0,
      fields: { state: 'failed', last_error: 'job stalled more than allowable limit' },
    },
  ]);
});

// One attempt: the guard, then a fresh signature, then the HTTP exchange (a fake here).

function attemptWith(lookup: (host: string) => Promise<{ address: string; family: 4 | 6 }[]>) {
  const requests: DeliveryRequest[] = [];
  const attempt = deliveryAttempt({
    allowlist: [],
    lookup,
    timeoutMs: 1234,
    maxResponseBytes: 99,
    deliver: async (req) => {
      requests.push(req);
      return outcome({ ok: true, status: 200 });
    },
  });
  return { attempt, requests };
}

test('an attempt connects to the checked address with fresh Standard Webhooks signature headers', async () => {
  const { attempt, requests } = attemptWith(async () => [{ address: '93.184.216.34', family: 4 }]);
  const body = '{"type":"job.completed"}';
  const result = await attempt({ url: 'https://hooks.example/x?y=1', body, webhookId: 'msg_job-1', secret: SECRET });
  assert.equal(result.ok, true);
  const [req] = requests;
  assert.ok(req);
  assert.equal(req.url.href, 'https://hooks.example/x?y=1');
  assert.equal(req.address, '93.184.216.34');
  assert.equal(req.family, 4);
  assert.equal(req.body, body);
  assert.equal(req.timeoutMs, 1234);
  assert.equal(req.maxResponseBytes, 99);
  assert.equal(req.headers['webhook-id'], 'msg_job-1');
  assert.ok(Math.abs(Number(req.headers['webhook-timestamp']) - Date.now() / 1000) < 5);
  assert.equal(verifyWebhook(SECRET, req.headers, body), true);
});

test('an unresolvable name is an ordinary failed attempt; a forbidden address is thrown, and neither is sent', async () => {
  const unresolvable = attemptWith(async () => {
    throw new Error('ENOTFOUND');
  });
  const result = await unresolvable.attempt({
    url: 'https://nowhere.example/',
    body: '{}',
    webhookId: 'w',
    secret: SECRET,
  });
  assert.equal(result.ok, false);
  assert.equal(result.status, null);
  assert.equal(result.retryAfterMs, null);
  assert.equal(result.responseBytes, 0);
  assert.match(result.error ?? '', /^unresolvable: cannot resolve nowhere\.example: ENOTFOUND/);
  assert.equal(unresolvable.requests.length, 0);

  const inward = attemptWith(async () => [{ address: '10.1.2.3', family: 4 }]);
  await assert.rejects(
    inward.attempt({ url: 'https://inward.example/', body: '{}', webhookId: 'w', secret: SECRET }),
    (err) => err instanceof WebhookTargetError && err.code === 'forbidden_address',
  );
  assert.equal(inward.requests.length, 0);
});

// The state store's reads, on a fake HGETALL.

function storeHolding(hashes: Record<string, Record<string, string>>) {
  const redis: DeliveryStateRedis = {
    eval: async () => assert.fail('reads do not run scripts'),
    hgetall: async (key) => hashes[key] ?? {},
  };
  return new DeliveryStateStore(redis, 'sbx', 60);
}

test('parseDeliveryState turns the hash into typed state, with empty fields as null', () => {
  assert.equal(parseDeliveryState({}), null);
  assert.deepEqual(
    parseDeliveryState({
      state: 'pending',
      attempts: '2',
      webhook_id: 'msg_j',
      url: 'https://hooks.example/',
      body: '{}',
      redeliveries: '0',
      last_status: '503',
      last_error: 'http_status: 503',
      last_attempt_at: '2025-01-01T00:00:00.000Z',
      delivered_at: '',
    }),
    {
      state: 'pending',
      attempts: 2,
      last_status: 503,
      last_error: 'http_status: 503',
      last_attempt_at: '2025-01-01T00:00:00.000Z',
      delivered_at: null,
      webhook_id: 'msg_j',
      url: 'https://hooks.example/',
      redeliveries: 0,
    },
  );
  // What a redelivery leaves behind: every last_* field emptied, a fresh id, the count kept.
  assert.deepEqual(
    parseDeliveryState({ state: 'pending', attempts: '0', webhook_id: 'msg_j_1', last_status: '', redeliveries: '1' }),
    {
      state: 'pending',
      attempts: 0,
      last_status: null,
      last_error: null,
      last_attempt_at: null,
      delivered_at: null,
      webhook_id: 'msg_j_1',
      url: '',
      redeliveries: 1,
    },
  );
});

test('the store reads the hash under prefix:webhook:jobId, and hands an attempt only the current pending delivery', async () => {
  const base = { state: 'pending', attempts: '0', webhook_id: 'msg_a', url: 'https://h.example/', body: '{"a":1}' };
  const store = storeHolding({
    'sbx:webhook:a': base,
    'sbx:webhook:signed': { ...base, webhook_id: 'msg_signed', signer: 'acme' },
    'sbx:webhook:done': { ...base, webhook_id: 'msg_done', state: 'delivered' },
    'sbx:webhook:bodiless': Object.fromEntries(
      Object.entries({ ...base, webhook_id: 'msg_bodiless' }).filter(([k]) => k !== 'body'),
    ),
  });
  assert.equal((await store.read('a'))?.webhook_id, 'msg_a');
  assert.equal(await store.read('missing'), null);
  assert.deepEqual(await store.pending('a', 'msg_a'), {
    url: 'https://h.example/',
    body: '{"a":1}',
    signer: undefined,
  });
  assert.deepEqual(await store.pending('signed', 'msg_signed'), {
    url: 'https://h.example/',
    body: '{"a":1}',
    signer: 'acme',
  });
  assert.equal(await store.pending('a', 'msg_a_1'), null, 'superseded by a redelivery');
  assert.equal(await store.pending('done', 'msg_done'), null, 'already finished');
  assert.equal(await store.pending('bodiless', 'msg_bodiless'), null, 'no body to send');
  assert.equal(await store.pending('missing', 'msg_missing'), null, 'expired');
});
