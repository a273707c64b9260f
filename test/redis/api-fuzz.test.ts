import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { API_ERRORS, bullKeys, fairKeys, redisKeys } from '@sbx/shared';
import fc from 'fast-check';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { Redis } from 'ioredis';
import { REDIS_URL, type Stack, startStack } from '../support/stack.js';

const KEY = 'fuzz-key';
const METHODS = ['GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'HEAD', 'OPTIONS'] as const;
// Small maxima so that generated code and input often cross them; the body limit is then about 100 KB.
const MAX_CODE_BYTES = 2000;
const MAX_STDIN_BYTES = 4000;
const SOME_ID = '00000000-0000-4000-8000-000000000000';

/** Characters a path or query may hold raw, `%` included so that broken escapes come up often. */
const urlChar = fc.constantFrom(..."abcxyz019-._~!$&'()*+,;=:@%/".split(''), '%ZZ', '%E0%A4', '%C0%AF', '%00', '%2F');
const urlText = fc.oneof(
  fc.string({ unit: urlChar, maxLength: 12 }),
  fc.string({ maxLength: 8 }).map(encodeURIComponent),
  fc.nat({ max: 6000 }).map((n) => 'a'.repeat(n)),
);
const path = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom('/jobs', '/run', '/jobs/batch', '/info', '/healthz', '/readyz', '/docs/json'),
  },
  { weight: 2, arbitrary: fc.oneof(fc.constant(SOME_ID), urlText).map((id) => `/jobs/${id}`) },
  { weight: 1, arbitrary: urlText.map((id) => `/jobs/${id}/webhook/redeliver`) },
  { weight: 1, arbitrary: fc.array(urlText, { maxLength: 4 }).map((parts) => `/${parts.join('/')}`) },
  { weight: 1, arbitrary: urlText.map((rest) => `/docs/static/${rest}`) },
);
const query = fc.option(
  fc
    .array(fc.tuple(fc.oneof(fc.constantFrom('ids', 'wait_ms', 'x'), urlText), urlText), { maxLength: 3 })
    .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&')),
  { nil: undefined },
);

const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) });
const headers = fc.record(
  {
    'content-type': fc.oneof(
      fc.constantFrom('application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'text/plain'),
      fc.constantFrom('application/x-www-form-urlencoded', 'application/jsonx', '', 'application/json;;', '*/*'),
      printable,
    ),
    authorization: fc.oneof(
      { weight: 8, arbitrary: fc.constant(`Bearer ${KEY}`) },
      { weight: 1, arbitrary: fc.oneof(fc.constant('Bearer nope'), printable) },
    ),
    'idempotency-key': fc.oneof(fc.constantFrom('k1', 'k2'), printable),
    'x-request-id': printable,
    'accept-version': printable,
    range: fc.oneof(fc.constant('bytes=99999999-'), printable),
    'content-length': fc.nat({ max: 200 }).map(String),
  },
  { requiredKeys: [] },
);

/** Job fields with right and wrong values mixed: most bodies get far enough to meet a size or limit check. */
const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.string());
const sized = (max: number) =>
  fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.integer({ min: max - 8, max: max + 8 }).map((n) => 'x'.repeat(Math.max(0, n))),
    fc.integer({ min: max / 2 - 8, max: max / 2 + 8 }).map((n) => 'é'.repeat(Math.max(0, n))),
  );
const job = fc.record(
  {
    code: fc.oneof({ weight: 4, arbitrary: sized(MAX_CODE_BYTES) }, anyValue),
    stdin: fc.oneof(sized(MAX_STDIN_BYTES), anyValue),
    args: fc.oneof(fc.array(fc.string({ maxLength: 20 }), { maxLength: 70 }), anyValue),
    limits: fc.oneof(
      fc.record(
        {
          time_ms: fc.oneof(fc.integer({ min: -1, max: 3000 }), anyValue),
          memory_mb: fc.integer({ min: 0, max: 300 }),
        },
        { requiredKeys: [] },
      ),
      anyValue,
    ),
    policy: fc.oneof(fc.constantFrom('strict', 'standard', 'lenient'), anyValue),
    tests: fc.oneof(
      fc.array(fc.record({ stdin: fc.string(), expected_output: sized(MAX_STDIN_BYTES) }, { requiredKeys: [] }), {
        maxLength: 3,
      }),
      anyValue,
    ),
    output_encoding: fc.constantFrom('base64', 'utf8'),
    comparator: fc.constantFrom('exact', 'float', 'nope'),
    callback_url: fc.constantFrom('https://example.com/hook', 'ftp://x', 'not a url'),
    unknown: anyValue,
  },
  { requiredKeys: [] },
);

/** A job the schema takes: only its sizes, limits and policy can still be refused. */
const fairJob = fc.record(
  {
    code: sized(MAX_CODE_BYTES).filter((c) => c.length > 0),
    stdin: sized(MAX_STDIN_BYTES),
    args: fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 }),
    limits: fc.record(
      { time_ms: fc.integer({ min: 1, max: 2100 }), memory_mb: fc.integer({ min: 60, max: 140 }) },
      { requiredKeys: [] },
    ),
    policy: fc.constantFrom('strict', 'standard'),
  },
  { requiredKeys: ['code'] },
);

/** JSON bodies, near-JSON and not JSON at all: bytes that are not UTF-8, cut or spliced JSON, over-long bodies. */
const body = fc.oneof(
  { weight: 6, arbitrary: job.map((j) => JSON.stringify(j)) },
  { weight: 2, arbitrary: fc.array(job, { maxLength: 22 }).map((jobs) => JSON.stringify({ jobs })) },
  { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string() },
  { weight: 1, arbitrary: job.map((j) => JSON.stringify(j).replace(/^\{/, '{"__proto__": {"polluted": true}, ')) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)) },
  {
    weight: 2,
    arbitrary: fc.tuple(job, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 4 })).map(([j, at, bytes]) => {
      const text = Buffer.from(JSON.stringify(j));
      const cut = at % (text.length + 1);
      return Buffer.concat([text.subarray(0, cut), Buffer.from(bytes), text.subarray(cut)]);
    }),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 100_000, max: 130_000 }).map((n) => JSON.stringify({ code: 'x'.repeat(n) })),
  },
);

const request = fc.record({
  method: fc.oneof({ weight: 5, arbitrary: fc.constant('POST' as const) }, fc.constantFrom(...METHODS)),
  path,
  query,
  headers,
  body: fc.option(body, { nil: undefined, freq: 6 }),
});
/** Mostly well-formed job submissions: what gets past the parser, to the size, limit and policy checks. */
const submission = fc.record({
  method: fc.constant('POST' as const),
  path: fc.constantFrom('/jobs', '/run', '/jobs/batch'),
  query: fc.constant(undefined),
  headers: fc.record(
    {
      'content-type': fc.constant('application/json'),
      authorization: fc.constant(`Bearer ${KEY}`),
      'idempotency-key': fc.oneof(fc.constantFrom('k1', 'k2', 'k3'), printable),
    },
    { requiredKeys: ['content-type', 'authorization'] },
  ),
  body: fc.oneof(
    { weight: 3, arbitrary: fairJob.map((j) => JSON.stringify(j)) },
    { weight: 1, arbitrary: fc.array(fairJob, { minLength: 1, maxLength: 3 }).map((jobs) => JSON.stringify({ jobs })) },
    { weight: 1, arbitrary: body },
  ),
});
type Generated = {
  method: (typeof METHODS)[number];
  path: string;
  query: string | undefined;
  headers: Record<string, string>;
  body: string | Buffer | undefined;
};

describe('API fuzz: generated requests against a real app on real Redis (no worker)', () => {
  let stack: Stack;
  let redis: Redis;
  const accepted = new Set<string>();
  const seen = { requests: 0, errors: new Map<string, number>() };

  before(async () => {
    stack = await startStack({
      worker: false,
      env: {
        SBX_API_KEYS: KEY,
        SBX_MAX_CODE_BYTES: String(MAX_CODE_BYTES),
        SBX_MAX_STDIN_BYTES: String(MAX_STDIN_BYTES),
        SBX_RUN_WAIT_MS: '1',
        // Budgets far above the run's few thousand requests: a 429 would stand in for every other answer.
        SBX_RATE_PER_MINUTE: '100000000',
        SBX_MAX_QUEUED_PER_TENANT: '100000000',
        SBX_WORKER_STALE_MS: '3600000',
        SBX_ALLOWED_POLICIES: 'strict',
      },
    });
    redis = new Redis(REDIS_URL);
    // A worker that passed its self-check, as far as /readyz can tell: its 503 is a probe's answer, not an error.
    const keys = redisKeys(stack.config.prefix);
    await redis.zadd(keys.workers, Date.now(), 'fuzz-worker');
    await redis.hset(
      keys.workerHealth,
      'fuzz-worker',
      JSON.stringify({ ok: true, failures: [], checked_at: new Date().toISOString(), runtime: null }),
    );
  });
  after(async () => {
    redis.disconnect();
    await stack.stop();
  });

  /** Sends one generated request and checks everything that holds for any answer. */
  async function check(r: Generated): Promise<void> {
    const options: InjectOptions = {
      method: r.method,
      url: r.query === undefined ? r.path : `${r.path}?${r.query}`,
      headers: r.headers,
      ...(r.body === undefined ? {} : { payload: r.body }),
    };
    const queuedBefore = await stack.app.queue.count();
    const res: LightMyRequestResponse = await stack.app.inject(options);
    const queuedAfter = await stack.app.queue.count();
    seen.requests++;
    const what = `${r.method} ${options.url?.toString().slice(0, 200)} → ${res.statusCode} ${res.body.slice(0, 300)}`;
    assert.ok(res.statusCode < 500, what);
    if (res.statusCode >= 400) {
      assert.equal(queuedAfter, queuedBefore, `a refused request queued nothing: ${what}`);
      if (r.method === 'HEAD') return;
      const error = res.json() as { statusCode?: unknown; code?: unknown; message?: unknown };
      assert.equal(error.statusCode, res.statusCode, what);
      assert.ok(typeof error.code === 'string' && Object.hasOwn(API_ERRORS, error.code), what);
      assert.equal(API_ERRORS[error.code as keyof typeof API_ERRORS], res.statusCode, what);
      assert.ok(typeof error.message === 'string' && error.message.length > 0, what);
      seen.errors.set(error.code, (seen.errors.get(error.code) ?? 0) + 1);
      return;
    }
    const ids = r.method === 'POST' && res.statusCode === 202 ? idsIn(res.json()) : [];
    const fresh = ids.filter((id) => !accepted.has(id));
    for (const id of fresh) accepted.add(id);
    assert.equal(queuedAfter - queuedBefore, fresh.length, `each new job queued once, replays none: ${what}`);
  }

  test('no 5xx, every error in the documented shape, nothing queued for a refused request', async (t) => {
    await fc.assert(fc.asyncProperty(request, check), { numRuns: 2500 });
    await fc.assert(fc.asyncProperty(submission, check), { numRuns: 1500 });
    t.diagnostic(
      `${seen.requests} requests, ${accepted.size} jobs queued, errors: ${JSON.stringify([...seen.errors])}`,
    );
    // The generators must reach the checks they are meant to exercise, or a pass means little.
    for (const code of [
      'bad_request',
      'invalid_json',
      'validation_failed',
      'unauthorized',
      'not_found',
      'method_not_allowed',
      'code_too_large',
      'stdin_too_large',
      'payload_too_large',
      'unsupported_media_type',
      'limit_exceeded',
      'policy_not_allowed',
      'idempotency_conflict',
    ])
      assert.ok((seen.errors.get(code) ?? 0) > 0, `some request got ${code}: ${JSON.stringify([...seen.errors])}`);
    assert.ok(accepted.size > 20, `some requests were accepted (${accepted.size})`);
  });

  test('Redis holds exactly the accepted jobs: no job, owner or reservation for any refused request', async () => {
    const { prefix, queueName } = stack.config;
    const keys = redisKeys(prefix);
    const fair = fairKeys(prefix);
    const queued = await stack.app.queue.getJobs(['waiting', 'prioritized', 'delayed']);
    assert.deepEqual(new Set(queued.map((j) => j.id)), accepted);
    assert.deepEqual(new Set(await redis.zrange(fair.tenantQueued('default'), '0', '-1')), accepted);
    const inLanes = [
      ...(await redis.zrange(fair.lane('interactive'), '0', '-1')),
      ...(await redis.zrange(fair.lane('batch'), '0', '-1')),
    ];
    assert.deepEqual(new Set(inLanes), accepted);
    const all = await scan(`${prefix}:*`);
    const owners = all.filter((k) => k.startsWith(`${prefix}:owner:`)).map((k) => k.slice(`${prefix}:owner:`.length));
    assert.deepEqual(new Set(owners), accepted);
    for (const k of all.filter((k) => k.startsWith(`${prefix}:idem:`))) {
      const { id } = JSON.parse((await redis.get(k)) ?? '{}') as { id?: string };
      assert.ok(id && accepted.has(id), `idempotency key ${k} names an accepted job`);
    }
    // The tenant's stored-bytes ledger counts exactly the accepted jobs' bodies (as BullMQ holds them).
    let bodies = 0;
    for (const id of accepted)
      bodies += Buffer.byteLength((await redis.hget(`${prefix}:${queueName}:${id}`, 'data')) ?? '');
    const ledger = all.filter((k) => k.startsWith(`${prefix}:stored:`));
    const counted = (await Promise.all(ledger.map((k) => redis.get(k)))).reduce((n, v) => n + Number(v ?? 0), 0);
    assert.equal(counted, bodies, 'stored bytes counted for accepted jobs only');
    const known = [
      bullKeys(prefix, queueName).keyPrefix,
      `${prefix}:stored:default:`,
      `${prefix}:owner:`,
      `${prefix}:idem:`,
      `${prefix}:rate:`,
      fair.tenantQueued('default'),
      fair.lane('interactive'),
      fair.lane('batch'),
      fair.clock,
      fair.last('interactive'),
      fair.last('batch'),
      keys.workers,
      keys.workerHealth,
      keys.eventsTokenSecret,
    ];
    const strays = all.filter((k) => !known.some((p) => k.startsWith(p)));
    assert.deepEqual(strays, [], 'no key of any other kind (no result, no cancel flag)');
  });

  async function scan(match: string): Promise<string[]> {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      cursor = next;
      found.push(...batch);
    } while (cursor !== '0');
    return found;
  }
});

/** The job ids an accepted POST answered with: one for /jobs and /run, several for /jobs/batch. */
function idsIn(answer: unknown): string[] {
  const a = answer as { id?: unknown; jobs?: { id?: unknown }[] };
  if (typeof a.id === 'string') return [a.id];
  return (a.jobs ?? []).map((j) => j.id).filter((id): id is string => typeof id === 'string');
}
