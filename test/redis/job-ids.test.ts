/**
 * Job ids as an attacker holding a valid key would send them: BullMQ's own key names and suffixes on
 * every route that takes an id. None may answer anything but "no such job", none may become a 500, and
 * none may reach Redis as part of a key (Redis's MONITOR sees every command the API sends).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { BULL_QUEUE_KEY_TYPES, bullKeys, isJobId, redisKeys } from '@sbx/shared';
import { Redis } from 'ioredis';
import { REDIS_URL, type Stack, startStack } from '../support/stack.js';
import { newApiKey, type TenantsFile, tenantEntry, writeTenantsFile } from '../support/tenants-file.js';

const keys = { acme: newApiKey(), beta: newApiKey() };
const as = (tenant: keyof typeof keys) => ({ authorization: `Bearer ${keys[tenant]}` });

/** BullMQ's key names under a queue (and, below, a real job's id with BullMQ's suffixes): each an "id" here. */
const BULLMQ_NAMES: readonly string[] = BULL_QUEUE_KEY_TYPES;

describe("job ids: only our own shape reaches Redis; a job with no owner is nobody's", () => {
  let stack: Stack;
  let redis: Redis;
  let acmeJob: string;
  let tenants: TenantsFile;

  before(async () => {
    tenants = await writeTenantsFile([tenantEntry('acme', keys.acme), tenantEntry('beta', keys.beta)]);
    stack = await startStack({ worker: false, env: { SBX_TENANTS_FILE: tenants.path } });
    redis = new Redis(REDIS_URL);
    const res = await stack.app.inject({
      method: 'POST',
      url: '/jobs',
      headers: as('acme'),
      payload: { code: 'print(1)' },
    });
    assert.equal(res.statusCode, 202);
    acmeJob = res.json().id;
    assert.ok(isJobId(acmeJob), `the API's own ids have the shape: ${acmeJob}`);
  });
  after(async () => {
    redis.disconnect();
    await stack.stop();
    await tenants.remove();
  });

  const probes = () => [
    ...BULLMQ_NAMES,
    `${acmeJob}:lock`,
    `${acmeJob}:logs`,
    `${acmeJob}:dependencies`,
    acmeJob.toUpperCase(),
    ` ${acmeJob}`,
    '00000000-0000-0000-0000-000000000000',
    '..',
    '*',
  ];

  /** Every route that takes a job id, for one id, as one tenant: [what, status, code]. */
  async function everyRoute(id: string, tenant: keyof typeof keys) {
    const path = `/jobs/${encodeURIComponent(id)}`;
    const calls = [
      { method: 'GET', url: path },
      { method: 'GET', url: `${path}?wait_ms=20` },
      { method: 'DELETE', url: path },
      { method: 'POST', url: `${path}/webhook/redeliver` },
      { method: 'GET', url: `${path}/artifacts/figure-1.png` },
      { method: 'GET', url: `${path}/events` },
    ] as const;
    const out: [string, number, string][] = [];
    // '..' as an id: a client resolves /jobs/.. to / (the playground) before sending; not a job route.
    const jobRoutes = calls.filter((c) => new URL(c.url, 'http://x').pathname.startsWith('/jobs/'));
    for (const call of jobRoutes) {
      const res = await stack.app.inject({ ...call, headers: as(tenant) });
      out.push([`${call.method} ${call.url}`, res.statusCode, res.json().code]);
    }
    const list = await stack.app.inject({
      method: 'GET',
      url: `/jobs?ids=${encodeURIComponent(id)}`,
      headers: as(tenant),
    });
    const entry = list.json().jobs?.[0];
    out.push([`GET /jobs?ids=${id}`, list.statusCode, entry?.state]);
    return out;
  }

  test('every BullMQ key name and suffix, on every route: 404 not_found, never a 500, never a Redis key', async () => {
    const { prefix, queueName } = stack.config;
    const bull = bullKeys(prefix, queueName);
    const ours = redisKeys(prefix);
    const metaBefore = await redis.hgetall(bull.meta);
    // monitor() opens a connection of its own: the client it came from must be closed too.
    const client = new Redis(REDIS_URL);
    const monitor = await client.monitor();
    const seen: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      for (const arg of args) if (typeof arg === 'string' && arg.startsWith(`${prefix}:`)) seen.push(arg);
    });
    const wrong: string[] = [];
    try {
      for (const id of probes())
        for (const [what, status, code] of await everyRoute(id, 'beta'))
          if (
            what.startsWith('GET /jobs?ids=')
              ? status !== 200 || code !== 'not_found'
              : status !== 404 || code !== 'not_found'
          )
            wrong.push(`${what}: ${status} ${code}`);
      // MONITOR is asynchronous: a last command of our own marks the end of what the probes sent.
      await redis.get(`${prefix}:monitor-end`);
      for (let i = 0; i < 50 && !seen.includes(`${prefix}:monitor-end`); i++)
        await new Promise((r) => setTimeout(r, 20));
    } finally {
      monitor.disconnect();
      client.disconnect();
    }
    assert.deepEqual(wrong, []);
    const reached = seen.filter((k) =>
      probes().some((p) =>
        [bull.job(p), ours.result(p), ours.owner(p), ours.cancelFlag(p), ours.runs(p), ours.events(p)].includes(k),
      ),
    );
    assert.deepEqual(reached, [], 'no probe became a Redis key');
    assert.ok(seen.includes(`${prefix}:monitor-end`), 'the monitor saw the commands');
    assert.deepEqual(await redis.hgetall(bull.meta), metaBefore, "BullMQ's meta hash untouched");
  });

  test('a real job of another tenant, and one with no owner record, are 404 to everyone but the owner', async () => {
    for (const [what, status, code] of await everyRoute(acmeJob, 'beta'))
      assert.ok(
        what.startsWith('GET /jobs?ids=') ? code === 'not_found' : status === 404 && code === 'not_found',
        `${what}: ${status} ${code}`,
      );
    const mine = await stack.app.inject({ method: 'GET', url: `/jobs/${acmeJob}`, headers: as('acme') });
    assert.equal(mine.statusCode, 200);

    // A job on the queue that the API did not record an owner for (put there by hand): nobody's.
    const orphan = randomUUID();
    await stack.app.queue.add('run', { code: 'print(2)' } as never, { jobId: orphan });
    for (const tenant of ['acme', 'beta'] as const) {
      const res = await stack.app.inject({ method: 'GET', url: `/jobs/${orphan}`, headers: as(tenant) });
      assert.equal(res.statusCode, 404, `${tenant}: ${res.body}`);
      const cancel = await stack.app.inject({ method: 'DELETE', url: `/jobs/${orphan}`, headers: as(tenant) });
      assert.equal(cancel.statusCode, 404);
    }
    assert.ok(await stack.app.queue.getJob(orphan), 'nobody could cancel it');
  });
});
