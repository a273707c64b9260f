import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import { loadConfig, redisConnectionOptions } from '@sbx/shared';
import {
  createWebhookService,
  type DeliveryRequest,
  generateWebhookSecret,
  verifyWebhook,
  type WebhookDeliveryState,
  type WebhookService,
  type WebhookServiceOptions,
} from '@sbx/webhooks';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { pollUntil, sleep } from '../support/poll.js';
import { deleteKeys, REDIS_URL } from '../support/stack.js';

// Real Redis, a real BullMQ worker and a real HTTP receiver on 127.0.0.1 that checks every signature.

const SECRET = generateWebhookSecret();
const QUEUE = 'webhooks';
const CONNECTION = redisConnectionOptions(loadConfig({ SBX_REDIS_URL: REDIS_URL }));

interface Received {
  at: number;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  signatureValid: boolean;
}
type Reply = { status: number; headers?: Record<string, string> };

async function startReceiver(t: TestContext, reply: (n: number) => Reply = () => ({ status: 200 })) {
  const received: Received[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      const signatureValid = verifyWebhook(SECRET, req.headers, body);
      // The method, beside the headers: Judge0-shaped deliveries are PUTs.
      const headers = { ...req.headers, 'x-test-method': req.method };
      received.push({ at: Date.now(), path: req.url ?? '', headers, body, signatureValid });
      // A receiver that gets a bad signature refuses it, as a real one would.
      const r = signatureValid ? reply(received.length) : { status: 401 };
      res.writeHead(r.status, r.headers).end();
    });
  });
  server.on('connection', (s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    get connections() {
      return connections;
    },
  };
}

async function startService(t: TestContext, over: Partial<WebhookServiceOptions> = {}) {
  const prefix = `sbxtest-${randomBytes(4).toString('hex')}`;
  const service = createWebhookService({
    connection: CONNECTION,
    prefix,
    queueName: QUEUE,
    secret: SECRET,
    allowlist: ['127.0.0.0/8'],
    baseDelayMs: 50,
    maxDelayMs: 2000,
    timeoutMs: 2000,
    log: pino({ level: 'silent' }),
    ...over,
  });
  await service.start();
  t.after(async () => {
    await service.stop();
    await deleteKeys(prefix);
  });
  return { service, prefix };
}

async function waitForState(
  service: WebhookService,
  jobId: string,
  done: (s: WebhookDeliveryState) => boolean,
  timeoutMs = 5000,
): Promise<WebhookDeliveryState> {
  const { value, settled } = await pollUntil(
    () => service.state(jobId),
    (s) => s !== null && done(s),
    timeoutMs,
    25,
  );
  if (!settled || value === null)
    assert.fail(`delivery of ${jobId} did not settle in ${timeoutMs} ms; last state ${JSON.stringify(value)}`);
  return value;
}
const settled = (s: WebhookDeliveryState) => s.state !== 'pending';

test('(a) a completed job is delivered once, signed, and recorded as delivered', async (t) => {
  const receiver = await startReceiver(t);
  const { service } = await startService(t);
  const payload = { id: 'job-a', status: 'ok', stdout: '4\n', exit_code: 0 };
  const before = Date.now();
  await service.enqueue('job-a', receiver.url, payload);

  const state = await waitForState(service, 'job-a', settled);
  assert.equal(state.state, 'delivered');
  assert.equal(state.attempts, 1);
  assert.equal(state.last_status, 200);
  assert.equal(state.last_error, null);
  assert.equal(state.webhook_id, 'msg_job-a');
  assert.equal(state.url, receiver.url);
  assert.equal(state.redeliveries, 0);
  assert.ok(state.delivered_at && Date.parse(state.delivered_at) >= before - 1000);
  assert.equal(state.last_attempt_at, state.delivered_at);

  await sleep(200); // a duplicate would show up in this window
  assert.equal(receiver.received.length, 1);
  const [hit] = receiver.received;
  assert.ok(hit?.signatureValid, 'signature verifies with the shared secret');
  assert.equal(hit.headers['webhook-id'], 'msg_job-a');
  assert.match(String(hit.headers['webhook-signature']), /^v1,[A-Za-z0-9+/]{43}=$/);
  assert.ok(Math.abs(Number(hit.headers['webhook-timestamp']) - Date.now() / 1000) < 10);
  assert.equal(hit.headers['content-type'], 'application/json');
  const body = JSON.parse(hit.body);
  assert.equal(body.type, 'job.completed');
  assert.deepEqual(body.data, payload);
  assert.ok(Date.parse(body.timestamp) >= before - 1000, 'ISO timestamp of the event');
});

test("a delivery shaped { method: 'PUT', envelope: false } sends the bare payload as a PUT, still signed", async (t) => {
  const receiver = await startReceiver(t);
  const { service } = await startService(t);
  const payload = { token: 'job-put', status: { id: 3, description: 'Accepted' } };
  await service.enqueue('job-put', receiver.url, payload, undefined, { method: 'PUT', envelope: false });
  const state = await waitForState(service, 'job-put', settled);
  assert.equal(state.state, 'delivered');
  const [hit] = receiver.received;
  assert.equal(hit?.headers['x-test-method'], 'PUT');
  assert.deepEqual(JSON.parse(hit?.body ?? '{}'), payload, 'the payload is the whole body');
  assert.ok(hit?.signatureValid);
});

test('enqueue is idempotent per job: a second call starts no second delivery', async (t) => {
  const receiver = await startReceiver(t);
  const { service } = await startService(t);
  await service.enqueue('job-dup', receiver.url, { n: 1 });
  await waitForState(service, 'job-dup', settled);
  await service.enqueue('job-dup', receiver.url, { n: 2 });
  await sleep(300);
  assert.equal(receiver.received.length, 1);
  assert.deepEqual(JSON.parse(receiver.received[0]?.body ?? '{}').data, { n: 1 });
  assert.equal((await service.state('job-dup'))?.attempts, 1);
});

test('(b) two 500s then a 200: one logical delivery, same id and bytes on every attempt', async (t) => {
  const receiver = await startReceiver(t, (n) => ({ status: n <= 2 ? 500 : 200 }));
  const { service } = await startService(t);
  await service.enqueue('job-b', receiver.url, { status: 'ok' });

  const state = await waitForState(service, 'job-b', settled);
  assert.equal(state.state, 'delivered');
  assert.equal(state.attempts, 3);
  assert.equal(state.last_status, 200);
  assert.equal(state.last_error, null, 'a success clears the previous error');
  await sleep(200);
  assert.equal(receiver.received.length, 3);
  assert.deepEqual(
    receiver.received.map((r) => r.headers['webhook-id']),
    ['msg_job-b', 'msg_job-b', 'msg_job-b'],
  );
  assert.ok(receiver.received.every((r) => r.signatureValid));
  assert.equal(new Set(receiver.received.map((r) => r.body)).size, 1, 'retries send identical bytes');
});

test('a delivery that keeps failing ends failed after maxAttempts, with the last error kept', async (t) => {
  const receiver = await startReceiver(t, () => ({ status: 500 }));
  const { service } = await startService(t, { maxAttempts: 3 });
  await service.enqueue('job-x', receiver.url, {});
  const state = await waitForState(service, 'job-x', settled);
  assert.equal(state.state, 'failed');
  assert.equal(state.attempts, 3);
  assert.equal(state.last_status, 500);
  assert.equal(state.last_error, 'http_status: 500');
  await sleep(200);
  assert.equal(receiver.received.length, 3);
});

test('(c) Retry-After: 1 on a 429 is honoured instead of the much shorter backoff', async (t) => {
  const receiver = await startReceiver(t, (n) =>
    n === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 },
  );
  const { service } = await startService(t);
  await service.enqueue('job-c', receiver.url, {});

  const state = await waitForState(service, 'job-c', settled);
  assert.equal(state.state, 'delivered');
  assert.equal(state.attempts, 2);
  const [first, second] = receiver.received;
  assert.ok(first && second);
  const gap = second.at - first.at;
  // baseDelayMs is 50 ms, so only Retry-After explains a wait of about a second.
  assert.ok(gap >= 950, `second attempt came ${gap} ms after the first`);
  assert.ok(gap < 4000, `second attempt came ${gap} ms after the first`);
});

test('(d) a private target is refused before any connection, permanently', async (t) => {
  const calls: DeliveryRequest[] = [];
  // Standing in for the HTTP client: had the guard let 10.0.0.1 through, this would record it.
  const deliver = async (req: DeliveryRequest) => {
    calls.push(req);
    return { ok: false, status: null, retryAfterMs: null, error: 'connection: test', durationMs: 0, responseBytes: 0 };
  };
  const { service, prefix } = await startService(t, { allowlist: [], deliver });
  await service.enqueue('job-d', 'http://10.0.0.1/hook', {});

  const state = await waitForState(service, 'job-d', settled);
  assert.equal(state.state, 'failed');
  assert.match(state.last_error ?? '', /^forbidden_address: 10\.0\.0\.1 is a private address/);
  assert.equal(state.last_status, null);
  assert.equal(calls.length, 0);

  // No retry was scheduled: BullMQ holds the job as failed, not delayed for another go.
  const queue = new Queue(QUEUE, { connection: { url: REDIS_URL }, prefix });
  t.after(() => queue.close());
  assert.equal(await queue.getJobState('msg_job-d'), 'failed');
  await sleep(200);
  assert.equal(calls.length, 0);
  assert.equal((await service.state('job-d'))?.attempts, 1);
});

test('(d) loopback is refused too when the allowlist is empty: zero connections reach the receiver', async (t) => {
  const receiver = await startReceiver(t);
  const { service } = await startService(t, { allowlist: [] });
  await service.enqueue('job-d2', receiver.url, {});
  const state = await waitForState(service, 'job-d2', settled);
  assert.equal(state.state, 'failed');
  assert.match(state.last_error ?? '', /^forbidden_address: 127\.0\.0\.1 is a loopback address/);
  await sleep(200);
  assert.equal(receiver.connections, 0);
  assert.equal(receiver.received.length, 0);
});

test('(e) a 302 is a failed attempt and the redirect is never followed', async (t) => {
  const receiver = await startReceiver(t, () => ({ status: 302, headers: { location: '/elsewhere' } }));
  const { service } = await startService(t, { maxAttempts: 2 });
  await service.enqueue('job-e', receiver.url, {});

  const state = await waitForState(service, 'job-e', settled);
  assert.equal(state.state, 'failed');
  assert.equal(state.attempts, 2, 'a redirect is retried like any failure');
  assert.equal(state.last_status, 302);
  assert.match(state.last_error ?? '', /^redirect: 302/);
  await sleep(200);
  assert.deepEqual(
    receiver.received.map((r) => r.path),
    ['/hook', '/hook'],
  );
});

test('(f) redeliver sends the same body again under a fresh webhook-id', async (t) => {
  const receiver = await startReceiver(t);
  const { service } = await startService(t);
  assert.equal(await service.redeliver('job-unknown'), false);
  assert.equal(await service.state('job-unknown'), null);

  await service.enqueue('job-f', receiver.url, { status: 'ok' });
  await waitForState(service, 'job-f', settled);
  assert.equal(await service.redeliver('job-f'), true);
  const state = await waitForState(service, 'job-f', (s) => s.webhook_id === 'msg_job-f_1' && settled(s));
  assert.equal(state.state, 'delivered');
  assert.equal(state.attempts, 1, 'attempts count the new logical delivery');
  assert.equal(state.redeliveries, 1);

  await sleep(200);
  assert.equal(receiver.received.length, 2);
  const [first, second] = receiver.received;
  assert.equal(first?.headers['webhook-id'], 'msg_job-f');
  assert.equal(second?.headers['webhook-id'], 'msg_job-f_1');
  assert.ok(second?.signatureValid);
  assert.equal(second?.body, first?.body, 'the stored body is sent again');

  assert.equal(await service.redeliver('job-f'), true);
  await waitForState(service, 'job-f', (s) => s.webhook_id === 'msg_job-f_2' && settled(s));
  assert.equal(receiver.received.at(-1)?.headers['webhook-id'], 'msg_job-f_2');
});

test('a misconfigured service refuses to start: weak secret, bad allowlist entry', () => {
  const base = {
    connection: CONNECTION,
    prefix: 'sbxtest-never',
    queueName: QUEUE,
    allowlist: [],
    log: pino({ level: 'silent' }),
  };
  assert.throws(() => createWebhookService({ ...base, secret: 'whsec_c2hvcnQ=' }), /at least 24 bytes/);
  assert.throws(() => createWebhookService({ ...base, secret: SECRET, allowlist: ['127.0.0.0/40'] }), /not a CIDR/);
});
