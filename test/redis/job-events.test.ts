/**
 * GET /jobs/:id/events over real listening servers on a real Redis, with the worker's own publishing
 * pieces (LiveRuns, JobEventPublisher, ResultStore) standing in for a run: no sandbox. Order, live
 * delivery, resume, a late viewer, a finished job, the cap, tenants, two replicas, a retried run.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { buildApp } from '@sbx/api';
import { bullKeys, internalErrorResult, type RunResult, redisKeys } from '@sbx/shared';
import { JobEventPublisher, type LiveRun, LiveRuns, ResultStore } from '@sbx/worker';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { openEvents, type SseEvent } from '../support/sse.js';
import { REDIS_URL, type Stack, startStack } from '../support/stack.js';
import { newApiKey, type TenantsFile, tenantEntry, writeTenantsFile } from '../support/tenants-file.js';

const CAP = 1000;
/** Enough for every test but the viewer cap's, which uses the tenant no other test streams as. */
const VIEWERS_PER_TENANT = 4;
const RECEIPT = {
  limits: { time_ms: 2000, memory_mb: 128 },
  policy: 'strict' as const,
  submitted_at: '',
  request_id: 'r',
};
const apiKeys = { acme: newApiKey(), beta: newApiKey() };
const as = (tenant: keyof typeof apiKeys) => ({ authorization: `Bearer ${apiKeys[tenant]}` });

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

/** What a viewer shows of one stream: the text of its events, in order. */
const text = (events: SseEvent[], type: 'stdout' | 'stderr') =>
  events
    .filter((e) => e.event === type)
    .map((e) => (e.data as { text: string }).text)
    .join('');

describe('live events of a job (GET /jobs/:id/events)', () => {
  let stack: Stack;
  let replica: FastifyInstance;
  let base: string;
  let base2: string;
  let tenants: TenantsFile;
  let redis: Redis;
  let live: LiveRuns;
  let store: ResultStore;

  before(async () => {
    tenants = await writeTenantsFile([tenantEntry('acme', apiKeys.acme), tenantEntry('beta', apiKeys.beta)]);
    stack = await startStack({
      worker: false,
      env: {
        SBX_TENANTS_FILE: tenants.path,
        SBX_MAX_OUTPUT_BYTES: String(CAP),
        SBX_MAX_VIEWERS_PER_TENANT: String(VIEWERS_PER_TENANT),
      },
    });
    base = await listen(stack.app);
    // A second API replica on the same Redis and prefix: nothing of a stream lives in the process.
    replica = await buildApp(stack.config, { logger: false });
    base2 = await listen(replica);
    redis = new Redis(REDIS_URL);
    const { config } = stack;
    const keys = redisKeys(config.prefix);
    const bull = bullKeys(config.prefix, config.queueName);
    const log = pino({ level: 'silent' });
    const publisher = new JobEventPublisher(redis, { eventsKey: keys.events, lockKey: bull.lock, ttlSeconds: 60, log });
    live = new LiveRuns({ writerFor: (id, token) => publisher.forRun(id, token), capBytes: CAP });
    store = new ResultStore(redis, {
      ttlSeconds: 60,
      resultKey: keys.result,
      runsKey: keys.runs,
      eventsKey: keys.events,
      bull,
    });
  });
  after(async () => {
    redis.disconnect();
    await replica.close();
    await stack.stop();
    await tenants.remove();
  });

  async function submit(tenant: keyof typeof apiKeys = 'acme'): Promise<string> {
    const res = await fetch(`${base}/jobs`, {
      method: 'POST',
      headers: { ...as(tenant), 'content-type': 'application/json' },
      body: JSON.stringify({ code: 'print(1)' }),
    });
    assert.equal(res.status, 202);
    return ((await res.json()) as { id: string }).id;
  }

  /** The result a run of `id` would store, with this output. */
  const resultOf = (id: string, stdout: string, stderr = ''): RunResult => ({
    ...internalErrorResult(id, RECEIPT, ''),
    status: 'ok',
    stdout,
    stderr,
    exit_code: 0,
  });

  const watch = (id: string, tenant: keyof typeof apiKeys = 'acme', extra: Record<string, string> = {}, at = base) =>
    openEvents(`${at}/jobs/${id}/events`, { ...as(tenant), ...extra });

  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

  test('a viewer sees its place, then each line as it is written, in order, then the result', async () => {
    const id = await submit();
    const viewer = await watch(id);
    assert.equal(viewer.status, 200);
    assert.match(viewer.headers.get('content-type') ?? '', /text\/event-stream/);
    const queued = await viewer.next();
    assert.equal(queued?.event, 'status');
    assert.equal((queued?.data as { state?: string } | undefined)?.state, 'queued');
    assert.equal(queued?.id, undefined, "the queue's reading is not in the stream: no id");

    const run: LiveRun = live.start(id, { attempt: 1, token: undefined });
    run.output.write('stdout', Buffer.from('first\n'));
    const running = await viewer.next();
    assert.deepEqual(running?.data, { state: 'running', attempt: 1 });
    assert.deepEqual((await viewer.next())?.data, { text: 'first\n' }, 'the first line, long before the run ends');
    await pause(50);
    run.output.write('stderr', Buffer.from('warn\n'));
    await pause(50);
    run.output.write('stdout', Buffer.from('second\n'));
    run.end();
    assert.equal(await store.store(resultOf(id, 'first\nsecond\n', 'warn\n')), 'stored');
    const rest = await viewer.collect();
    assert.deepEqual(
      rest.map((e) => e.event),
      ['stderr', 'stdout', 'result'],
    );
    const result = rest.at(-1)?.data as { id: string; state: string; result: RunResult };
    assert.equal(result.state, 'completed', 'the same JSON as GET /jobs/:id');
    assert.equal(result.result.stdout, 'first\nsecond\n');
    assert.equal(await viewer.next(), null, 'the stream ends after the result');
  });

  test('a late viewer gets everything from the start; Last-Event-ID resumes with no gap and no duplicate', async () => {
    const id = await submit();
    const run = live.start(id, { attempt: 1, token: undefined });
    for (const line of ['a\n', 'b\n', 'c\n']) {
      run.output.write('stdout', Buffer.from(line));
      await pause(40);
    }
    const late = await watch(id);
    const seen = [await late.next(), await late.next(), await late.next()];
    assert.deepEqual(
      seen.map((e) => e?.event),
      ['status', 'stdout', 'stdout'],
      'from the start (its place is not shown: it runs)',
    );
    run.output.write('stdout', Buffer.from('d\n'));
    run.end();
    await store.store(resultOf(id, 'a\nb\nc\nd\n'));
    const all = [...(seen as SseEvent[]), ...(await late.collect())];
    assert.equal(text(all, 'stdout'), 'a\nb\nc\nd\n');
    const ids = all.map((e) => e.id as string);
    for (let cut = 0; cut < ids.length - 1; cut++) {
      const resumed = await (await watch(id, 'acme', { 'last-event-id': ids[cut] as string })).collect();
      assert.deepEqual(
        resumed.map((e) => e.id),
        ids.slice(cut + 1),
        `resumed after ${ids[cut]}`,
      );
    }
    const done = await watch(id, 'acme', { 'last-event-id': ids.at(-1) as string });
    assert.equal(done.status, 204, 'a viewer with the result is told there is nothing more');
    const byQuery = await openEvents(`${base}/jobs/${id}/events?last_event_id=${ids[1]}`, as('acme'));
    assert.deepEqual(
      (await byQuery.collect()).map((e) => e.id),
      ids.slice(2),
      'or by query, for clients that cannot set the header',
    );
  });

  test('a finished job whose stream is gone: its events rebuilt from its result', async () => {
    const id = await submit();
    await store.store(resultOf(id, 'out\n', 'err\n'));
    await redis.del(redisKeys(stack.config.prefix).events(id));
    const events = await (await watch(id)).collect();
    assert.deepEqual(
      events.map((e) => [e.id, e.event]),
      [
        ['0-1', 'stdout'],
        ['0-2', 'stderr'],
        ['0-3', 'result'],
      ],
    );
    assert.equal(text(events, 'stdout'), 'out\n');
    assert.equal((await watch(id, 'acme', { 'last-event-id': '0-3' })).status, 204);
  });

  test('the cap holds for what is streamed: CAP bytes, then truncated', async () => {
    const id = await submit();
    const run = live.start(id, { attempt: 1, token: undefined });
    run.output.write('stdout', Buffer.alloc(CAP - 10, 'x'));
    run.output.write('stderr', Buffer.alloc(100, 'y'));
    run.output.write('stdout', Buffer.alloc(100, 'z'));
    run.end();
    await store.store(resultOf(id, 'x'.repeat(CAP - 10), 'y'.repeat(10)));
    const events = await (await watch(id)).collect();
    assert.equal(text(events, 'stdout').length + text(events, 'stderr').length, CAP);
    assert.deepEqual(
      events.filter((e) => e.event === 'truncated').map((e) => e.data),
      [{ limit_bytes: CAP }],
    );
  });

  test("another tenant's job is 404, as for GET /jobs/:id; no key is 401", async () => {
    const id = await submit('acme');
    const other = await watch(id, 'beta');
    assert.equal(other.status, 404);
    const res = await fetch(`${base}/jobs/${id}/events`);
    assert.equal(res.status, 401);
    await store.store(resultOf(id, ''));
  });

  test('an events_url works with no key, on any replica, for its own job only', async () => {
    const post = (body: unknown) =>
      fetch(`${base}/jobs`, {
        method: 'POST',
        headers: { ...as('acme'), 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then((r) => r.json() as Promise<{ id: string; events_url: string }>);
    const [mine, other] = await Promise.all([post({ code: 'print(1)' }), post({ code: 'print(2)' })]);
    assert.match(mine.events_url, new RegExp(`^/jobs/${mine.id}/events\\?token=[\\w-]+\\.[\\w-]+$`));
    const viewer = await openEvents(`${base2}${mine.events_url}`);
    assert.equal(viewer.status, 200, 'no Authorization header, as EventSource sends none');
    assert.equal(viewer.headers.get('referrer-policy'), 'no-referrer', 'the token never leaves in a Referer');
    assert.equal((await viewer.next())?.event, 'status');
    viewer.close();
    const token = new URL(mine.events_url, base).searchParams.get('token') as string;
    const elsewhere = await fetch(`${base}/jobs/${other.id}/events?token=${token}`);
    assert.equal(elsewhere.status, 401, "one job's token opens no other job");
    const forged = await fetch(`${base}${mine.events_url.slice(0, -2)}xx`);
    assert.equal(forged.status, 401);
    const notEvents = await fetch(`${base}/jobs/${mine.id}?token=${token}`);
    assert.equal(notEvents.status, 401, 'a token opens the events of its job, nothing else');
    for (const { id } of [mine, other]) await store.store(resultOf(id, ''));
  });

  test('two API replicas serve the same events to their viewers', async () => {
    const id = await submit();
    const [one, two] = await Promise.all([watch(id), watch(id, 'acme', {}, base2)]);
    const run = live.start(id, { attempt: 1, token: undefined });
    run.output.write('stdout', Buffer.from('to both\n'));
    run.end();
    await store.store(resultOf(id, 'to both\n'));
    const [a, b] = await Promise.all([one.collect(), two.collect()]);
    assert.deepEqual(
      a.map((e) => [e.id, e.event]),
      b.map((e) => [e.id, e.event]),
    );
    assert.equal(text(b, 'stdout'), 'to both\n');
  });

  test('a run started again by a fault of ours: run clears the viewer, the earlier output is gone for late viewers', async () => {
    const id = await submit();
    const early = await watch(id);
    await early.next();
    const lost = live.start(id, { attempt: 1, token: undefined });
    lost.output.write('stdout', Buffer.from('lost\n'));
    lost.end();
    await pause(50);
    const retry = live.start(id, { attempt: 2, token: undefined });
    retry.output.write('stdout', Buffer.from('kept\n'));
    retry.end();
    await store.store(resultOf(id, 'kept\n'));
    const seen = await early.collect();
    assert.deepEqual(
      seen.map((e) => e.event),
      ['status', 'stdout', 'run', 'status', 'stdout', 'result'],
    );
    const late = await (await watch(id)).collect();
    assert.deepEqual(
      late.map((e) => e.event),
      ['run', 'status', 'stdout', 'result'],
    );
    assert.equal(text(late, 'stdout'), 'kept\n');
  });

  test("a run that lost its job's lock cannot write into the stream", async () => {
    const id = await submit();
    const { config } = stack;
    await redis.set(bullKeys(config.prefix, config.queueName).lock(id), 'the-new-run', 'EX', 30);
    const stale = live.start(id, { attempt: 1, token: 'the-old-run' });
    stale.output.write('stdout', Buffer.from('stale\n'));
    stale.end();
    const current = live.start(id, { attempt: 2, token: 'the-new-run' });
    current.output.write('stdout', Buffer.from('current\n'));
    current.end();
    await store.store(resultOf(id, 'current\n'), 'the-new-run');
    const events = await (await watch(id)).collect();
    assert.equal(text(events, 'stdout'), 'current\n');
  });

  test("cancelling a queued job ends its viewers' streams with the cancelled result", async () => {
    const id = await submit();
    const viewer = await watch(id);
    assert.equal((await viewer.next())?.event, 'status');
    const res = await fetch(`${base}/jobs/${id}`, { method: 'DELETE', headers: as('acme') });
    assert.equal(res.status, 200);
    const last = (await viewer.collect(undefined, 10_000)).at(-1);
    assert.equal(last?.event, 'result');
    assert.equal((last?.data as { result?: RunResult } | undefined)?.result?.status, 'cancelled');
  });

  test("a replica shutting down ends its viewers' streams rather than waiting for their jobs", async () => {
    const id = await submit();
    const leaving = await buildApp(stack.config, { logger: false });
    const viewer = await watch(id, 'acme', {}, await listen(leaving));
    assert.equal((await viewer.next())?.event, 'status');
    const started = Date.now();
    await leaving.close();
    assert.equal(await viewer.next(), null, 'the stream ended: the viewer resumes elsewhere');
    assert.ok(Date.now() - started < 5000, `closed in ${Date.now() - started} ms`);
    await store.store(resultOf(id, ''));
  });

  test('POST /run with Accept: text/event-stream streams the run in one round trip', async () => {
    const stream = await openEvents(
      `${base}/run`,
      { ...as('acme'), 'content-type': 'application/json' },
      { method: 'POST', body: JSON.stringify({ code: 'print(1)' }) },
    );
    assert.equal(stream.status, 200);
    const id = (stream.headers.get('location') ?? '').replace('/jobs/', '');
    assert.equal((await stream.next())?.event, 'status', 'queued: its place');
    const run = live.start(id, { attempt: 1, token: undefined });
    run.output.write('stdout', Buffer.from('streamed\n'));
    run.end();
    await store.store(resultOf(id, 'streamed\n'));
    const rest = await stream.collect();
    assert.equal(text(rest, 'stdout'), 'streamed\n');
    assert.equal(rest.at(-1)?.event, 'result');
  });

  test('a viewer that leaves gives its Redis connection back', async () => {
    const id = await submit();
    // The viewers' connections carry a name of their own: other clients of this Redis do not count.
    const name = `${stack.config.prefix}:events`;
    const clients = async () =>
      String(await redis.client('LIST'))
        .split('\n')
        .filter((line) => line.includes(` name=${name} `)).length;
    const before = await clients();
    const viewers = await Promise.all([watch(id), watch(id), watch(id)]);
    for (const v of viewers) await v.next();
    await pause(100);
    assert.equal(await clients(), before + 3, 'one blocking connection per viewer (and per replica none else)');
    for (const v of viewers) v.close();
    for (let i = 0; i < 50 && (await clients()) > before; i++) await pause(20);
    assert.equal(await clients(), before);
    await store.store(resultOf(id, ''));
  });

  test("a tenant's live streams are capped per replica: 429 too_many_viewers, and a streamed POST /run refused queues nothing", async () => {
    const id = await submit('beta');
    const viewers = await Promise.all(Array.from({ length: VIEWERS_PER_TENANT }, () => watch(id, 'beta')));
    for (const v of viewers) assert.equal((await v.next())?.event, 'status');
    const refused = await fetch(`${base}/jobs/${id}/events`, { headers: as('beta') });
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '5');
    assert.equal(((await refused.json()) as { code: string }).code, 'too_many_viewers');
    const acmeJob = await submit('acme');
    const acme = await watch(acmeJob, 'acme');
    assert.equal(acme.status, 200, "another tenant's viewers are not counted against it");
    acme.close();
    await store.store(resultOf(acmeJob, ''));
    const onOtherReplica = await watch(id, 'beta', {}, base2);
    assert.equal(onOtherReplica.status, 200, 'the cap is per API process');
    onOtherReplica.close();
    const run = await fetch(`${base}/run`, {
      method: 'POST',
      headers: { ...as('beta'), 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ code: 'print(1)' }),
    });
    assert.equal(run.status, 429);
    assert.equal(run.headers.get('location'), null, 'no job was queued');
    viewers[0]?.close();
    let again = await fetch(`${base}/jobs/${id}/events`, { headers: as('beta') });
    for (let i = 0; i < 50 && again.status === 429; i++) {
      await pause(20);
      again = await fetch(`${base}/jobs/${id}/events`, { headers: as('beta') });
    }
    assert.equal(again.status, 200, 'a seat comes back when a viewer leaves');
    await again.body?.cancel();
    for (const v of viewers) v.close();
    await store.store(resultOf(id, ''));
  });
});
