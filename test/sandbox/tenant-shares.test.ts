/**
 * Issue 19, as an attacker with one tenant's key would try it against another tenant: long jobs
 * that would hold every worker slot, and bytes stored past the tenant's quota.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type JobView, type RunResult, runningCapKeys } from '@sbx/shared';
import { Redis } from 'ioredis';
import { pollJob } from '../support/poll.js';
import { REDIS_URL, type Stack, startStack } from '../support/stack.js';
import { newApiKey, type TenantsFile, tenantEntry, writeTenantsFile } from '../support/tenants-file.js';

const keys = { hog: newApiKey(), other: newApiKey(), hoarder: newApiKey() };
const TTL_SECONDS = 240;
const MIB = 1024 * 1024;

describe("tenant shares: one tenant's long jobs and stored bytes against another tenant", () => {
  let stack: Stack;
  const redis = new Redis(REDIS_URL);
  let tenants: TenantsFile;
  before(async () => {
    tenants = await writeTenantsFile([
      tenantEntry('hog', keys.hog, { max_running: 1 }),
      tenantEntry('other', keys.other),
      tenantEntry('hoarder', keys.hoarder, { max_stored_mb: 1 }),
    ]);
    // Two slots: without the cap the hog's two jobs hold both.
    stack = await startStack({
      env: { SBX_TENANTS_FILE: tenants.path, SBX_WORKER_CONCURRENCY: '2', SBX_RESULT_TTL_SECONDS: String(TTL_SECONDS) },
    });
  });
  after(async () => {
    await stack.stop();
    redis.disconnect();
    await tenants.remove();
  });

  const as = (tenant: keyof typeof keys) => ({ authorization: `Bearer ${keys[tenant]}` });
  const post = (tenant: keyof typeof keys, url: string, payload: object) =>
    stack.app.inject({ method: 'POST', url, headers: as(tenant), payload });
  const finished = async (tenant: keyof typeof keys, id: string) =>
    (await pollJob(stack.app, id, (v) => v.state === 'completed', 90_000, 100, as(tenant))).result as RunResult;

  test("a tenant at its running cap leaves a slot: another tenant's run finishes before the capped tenant's first job", async () => {
    // Each about 4.5 s of slot time: without the cap, two of them hold both slots for that long.
    const long = {
      code: 'import time\ntime.sleep(1.5)',
      tests: [1, 2, 3].map(() => ({ stdin: '', expected_output: '' })),
    };
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await post('hog', '/jobs', long);
      assert.equal(res.statusCode, 202, res.body);
      ids.push(res.json().id);
    }
    const [first, second, third] = ids as [string, string, string];
    const running = await pollJob(stack.app, first, (v) => v.state === 'running', 30_000, 50, as('hog'));
    assert.equal(running.state, 'running');
    // The third is parked behind the cap (or still waiting): cancelling it must not cost the second its wake.
    const cancel = await stack.app.inject({ method: 'DELETE', url: `/jobs/${third}`, headers: as('hog') });
    assert.equal(cancel.statusCode, 200, cancel.body);

    const run = await post('other', '/run', { code: 'print(1)' });
    assert.equal(run.statusCode, 200, run.body);
    const quick = run.json() as RunResult;
    assert.equal(quick.status, 'ok');

    const [a, b] = [await finished('hog', first), await finished('hog', second)];
    assert.equal(a.status, 'ok', JSON.stringify(a));
    assert.equal(b.status, 'ok', JSON.stringify(b));
    assert.ok(
      Date.parse(quick.finished_at) < Date.parse(a.finished_at),
      `the other tenant's run ended at ${quick.finished_at}, after the hog's first job (${a.finished_at})`,
    );
    // Never two of the hog's jobs at once, and parking spent no attempt.
    assert.ok(
      Date.parse(b.run?.started_at ?? '') >= Date.parse(a.finished_at),
      `the second job started at ${b.run?.started_at}, before the first ended at ${a.finished_at}`,
    );
    assert.deepEqual([a.attempts, b.attempts], [1, 1]);
    assert.equal(((await finished('hog', third)) as RunResult).status, 'cancelled');
    // Every slot given back, nothing left parked.
    const capKeys = runningCapKeys(stack.config.prefix);
    assert.equal(await redis.zcard(capKeys.running('hog')), 0);
    assert.equal(await redis.zcard(capKeys.parked('hog')), 0);
  });

  test('past its stored-bytes quota a tenant gets 429 storage_quota with Retry-After; nothing accepted is lost', async () => {
    // 400 kB in, 400 kB out: about 0.8 MB counted per job against a 1 MiB quota.
    const echo = { code: 'import sys\nsys.stdout.write(sys.stdin.read())', stdin: 'x'.repeat(400_000) };
    const first = await post('hoarder', '/jobs', echo);
    assert.equal(first.statusCode, 202, first.body);
    assert.equal((await finished('hoarder', first.json().id)).stdout.length, 400_000);
    const second = await post('hoarder', '/jobs', echo);
    assert.equal(second.statusCode, 202, 'under the quota still (about 0.8 MB stored)');

    for (const [url, body] of [
      ['/jobs', { code: 'print(1)' }],
      ['/run', { code: 'print(1)' }],
      ['/jobs/batch', { jobs: [{ code: 'print(1)' }] }],
    ] as const) {
      const refused = await post('hoarder', url, body);
      assert.equal(refused.statusCode, 429, `${url}: ${refused.body}`);
      assert.equal(refused.json().code, 'storage_quota');
      assert.equal(refused.json().details.maximum, MIB);
      assert.ok(refused.json().details.stored >= MIB, refused.body);
      const retry = Number(refused.headers['retry-after']);
      // The oldest bytes stop counting a TTL after they were stored, rounded up to a bucket (TTL / 24).
      assert.ok(retry >= 1 && retry <= TTL_SECONDS * (1 + 1 / 24) + 1, `Retry-After ${retry}`);
    }
    // Another tenant is not held to the hoarder's bytes.
    assert.equal((await post('other', '/jobs', { code: 'print(1)' })).statusCode, 202);
    // The job accepted before the quota was reached still runs, and the refusals queued nothing.
    const kept = await finished('hoarder', second.json().id);
    assert.equal(kept.status, 'ok');
    assert.equal(kept.stdout.length, 400_000);
    assert.equal(await redis.zcard(`${stack.config.prefix}:queued:hoarder`), 0);
    const info = await stack.app.inject({ method: 'GET', url: '/info', headers: as('hoarder') });
    assert.equal((info.json() as { limits: { stored_bytes: number } }).limits.stored_bytes, MIB);
  });

  test('/info tells a tenant its running cap (0: none)', async () => {
    const capOf = async (t: keyof typeof keys) =>
      (
        (await stack.app.inject({ method: 'GET', url: '/info', headers: as(t) })).json() as JobView & {
          limits: { running: number };
        }
      ).limits.running;
    assert.deepEqual([await capOf('hog'), await capOf('other')], [1, 0]);
  });
});
