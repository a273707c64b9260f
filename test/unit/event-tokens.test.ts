import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  EVENTS_TOKEN_TTL_SECONDS,
  EventTokens,
  eventsTokenOf,
  redactToken,
} from '../../apps/api/src/services/event-tokens.js';

/** Redis's SET NX and GET on a Map: the token secret is the only key. */
function memoryRedis() {
  const data = new Map<string, string>();
  let reads = 0;
  return {
    data,
    reads: () => reads,
    set: async (key: string, value: string, nx: 'NX') => {
      assert.equal(nx, 'NX');
      if (data.has(key)) return null;
      data.set(key, value);
      return 'OK' as const;
    },
    get: async (key: string) => {
      reads += 1;
      return data.get(key) ?? null;
    },
  };
}

const KEY = 'sbx:events-token-secret';
const grant = { jobId: 'job-1', tenantId: 'acme' };

test('a token grants its own job to its tenant until it expires', async () => {
  const tokens = new EventTokens(memoryRedis() as never, KEY);
  const now = Date.UTC(2026, 11, 6);
  const token = await tokens.sign(grant, now);
  assert.deepEqual(await tokens.verify(token, 'job-1', now), grant);
  assert.deepEqual(await tokens.verify(token, 'job-1', now + (EVENTS_TOKEN_TTL_SECONDS - 1) * 1000), grant);
  assert.equal(await tokens.verify(token, 'job-1', now + EVENTS_TOKEN_TTL_SECONDS * 1000), null, 'expired');
  assert.equal(await tokens.verify(token, 'job-2', now), null, 'another job');
});

test('a forged, altered or malformed token grants nothing', async () => {
  const redis = memoryRedis();
  const tokens = new EventTokens(redis as never, KEY);
  const token = await tokens.sign(grant);
  const [claims, mac] = token.split('.') as [string, string];
  const otherTenant = Buffer.from(JSON.stringify({ j: 'job-1', t: 'beta', e: 9e9 })).toString('base64url');
  for (const bad of [
    `${otherTenant}.${mac}`,
    `${claims}.${mac.slice(0, -1)}A`,
    `${claims}.${mac}.x`,
    claims,
    '',
    '..',
    `${Buffer.from('not json').toString('base64url')}.${mac}`,
  ])
    assert.equal(await tokens.verify(bad, 'job-1'), null, bad);
  // Another deployment's secret: its tokens are not ours.
  const elsewhere = new EventTokens(memoryRedis() as never, KEY);
  assert.equal(await elsewhere.verify(token, 'job-1'), null);
});

test('replicas on one Redis share the first secret written; it is read once per process', async () => {
  const redis = memoryRedis();
  const a = new EventTokens(redis as never, KEY);
  const b = new EventTokens(redis as never, KEY);
  const token = await a.sign(grant);
  assert.deepEqual(await b.verify(token, 'job-1'), grant);
  await b.sign(grant);
  assert.equal(redis.reads(), 2, 'one read per replica');
});

test('a failed secret read is not kept: the next request tries again', async () => {
  const redis = memoryRedis();
  let down = true;
  const flaky = { ...redis, get: async (k: string) => (down ? Promise.reject(new Error('down')) : redis.get(k)) };
  const tokens = new EventTokens(flaky as never, KEY);
  await assert.rejects(tokens.sign(grant), /down/);
  down = false;
  assert.match(await tokens.sign(grant), /^[\w-]+\.[\w-]+$/);
});

test('the events path and its token are found in a URL, and hidden for logs', () => {
  const id = '0b6f6d4e-3c1a-4d2b-9f8e-7a6b5c4d3e2f';
  assert.deepEqual(eventsTokenOf(`/jobs/${id}/events?last_event_id=1-0&token=t.k`), { jobId: id, token: 't.k' });
  assert.equal(eventsTokenOf(`/jobs/${id}?token=t.k`), null);
  assert.equal(eventsTokenOf(`/jobs/${id}/events`), null);
  // Not a job id: no token is looked for, and nothing a client sends makes this throw.
  for (const url of [
    '/jobs/abc/events?token=t.k',
    '//?token=t',
    '//',
    '/jobs/%E0%A4%A/events?token=t',
    '/jobs//events?token=',
  ])
    assert.equal(eventsTokenOf(url), null, url);
  assert.equal(redactToken('/jobs/a/events?token=secret&x=1'), '/jobs/a/events?token=[redacted]&x=1');
  assert.equal(redactToken('/jobs/a/events?x=1&token=secret'), '/jobs/a/events?x=1&token=[redacted]');
});
