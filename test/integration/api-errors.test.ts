import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { API_ERRORS } from '@sbx/shared';
import { type Stack, startStack } from '../support/stack.js';

/** Bad input gets a clear 4xx with a stable code, and nothing reaches the queue. No worker runs here. */
describe('API: bad requests', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ worker: false, env: { SBX_MAX_CODE_BYTES: '1000', SBX_MAX_STDIN_BYTES: '2000' } });
  });
  after(async () => {
    await stack.stop();
  });

  const post = (payload: string | object, headers: Record<string, string> = {}) =>
    stack.app.inject({
      method: 'POST',
      url: '/jobs',
      headers: { 'content-type': 'application/json', ...headers },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });

  const cases: [string, string | object, number, string, RegExp][] = [
    ['malformed JSON', '{"code": "print(1)"', 400, 'invalid_json', /not valid JSON/],
    ['empty body', '', 400, 'invalid_json', /empty/],
    ['missing code', { stdin: 'x' }, 400, 'validation_failed', /missing required field "code"/],
    ['code of the wrong type', { code: 42 }, 400, 'validation_failed', /body\.code must be string/],
    ['empty code', { code: '' }, 400, 'validation_failed', /body\.code/],
    ['unknown field', { code: 'print(1)', language: 'python' }, 400, 'validation_failed', /unknown field "language"/],
    [
      'unknown field in limits',
      { code: 'print(1)', limits: { cpu: 1 } },
      400,
      'validation_failed',
      /body\.limits: unknown field "cpu"/,
    ],
    [
      'limit as a string',
      { code: 'print(1)', limits: { time_ms: '100' } },
      400,
      'validation_failed',
      /time_ms must be integer/,
    ],
    ['array body', [1, 2], 400, 'validation_failed', /body must be object/],
    [
      'time above the maximum',
      { code: 'print(1)', limits: { time_ms: 2001 } },
      400,
      'limit_exceeded',
      /maximum is 2000/,
    ],
    [
      'memory above the maximum',
      { code: 'print(1)', limits: { memory_mb: 4096 } },
      400,
      'limit_exceeded',
      /maximum is 128/,
    ],
    ['non-positive time', { code: 'print(1)', limits: { time_ms: 0 } }, 400, 'validation_failed', /time_ms/],
    [
      'code over the size cap',
      { code: `#${'x'.repeat(1000)}` },
      413,
      'code_too_large',
      /1001 bytes; the maximum is 1000/,
    ],
    ['multi-byte code over the cap', { code: 'é'.repeat(501) }, 413, 'code_too_large', /1002 bytes/],
    ['stdin over its cap', { code: 'print(1)', stdin: 'x'.repeat(2001) }, 413, 'stdin_too_large', /maximum is 2000/],
    ['args not strings', { code: 'print(1)', args: ['a', 1] }, 400, 'validation_failed', /args\.1 must be string/],
    [
      'too many args',
      { code: 'print(1)', args: Array.from({ length: 65 }, () => 'a') },
      400,
      'validation_failed',
      /args must NOT have more than 64 items/,
    ],
    [
      'args count against the input cap',
      { code: 'print(1)', stdin: 'x'.repeat(1990), args: ['y'.repeat(11)] },
      413,
      'stdin_too_large',
      /2001 bytes together; the maximum is 2000/,
    ],
    ['body over the body limit', { code: 'x'.repeat(1_000_000) }, 413, 'payload_too_large', /larger/],
  ];

  for (const [name, payload, status, code, message] of cases) {
    test(`${name} → ${status} ${code}`, async () => {
      const before = await stack.app.queue.count();
      const res = await post(payload);
      assert.equal(res.statusCode, status, res.body);
      const body = res.json();
      assert.equal(body.code, code);
      assert.equal(body.statusCode, status);
      assert.equal(API_ERRORS[code as keyof typeof API_ERRORS], status);
      assert.match(body.message, message);
      assert.equal(await stack.app.queue.count(), before, 'nothing was queued');
    });
  }

  test('a non-JSON content type → 415', async () => {
    const res = await post('print(1)', { 'content-type': 'text/plain' });
    assert.equal(res.statusCode, 415);
    assert.equal(res.json().code, 'unsupported_media_type');
  });

  test('POST /run validates the same way', async () => {
    const res = await stack.app.inject({ method: 'POST', url: '/run', payload: { code: 'print(1)', extra: true } });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'validation_failed');
  });

  test('an unknown job id → 404 not_found', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/jobs/00000000-0000-0000-0000-000000000000' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, 'not_found');
  });

  test('an unknown route → 404 not_found', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/nope' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, 'not_found');
  });

  test('a valid job is accepted and queued (limits resolved)', async () => {
    const res = await post({ code: 'print(1)', limits: { time_ms: 500 } });
    assert.equal(res.statusCode, 202);
    const job = await stack.app.queue.getJob(res.json().id);
    assert.deepEqual(job?.data.limits, { time_ms: 500, memory_mb: 128 });
    const view = await stack.app.inject({ method: 'GET', url: `/jobs/${res.json().id}` });
    assert.deepEqual(view.json(), { id: res.json().id, state: 'queued' });
  });

  test('GET /info states the runtime and the limits this server enforces', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/info' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), {
      runtime: { language: 'python', version: '3.11' },
      sandbox: [],
      limits: {
        time_ms: { default: 2000, max: 2000 },
        memory_mb: { default: 128, min: 64, max: 128 },
        code_bytes: 1000,
        input_bytes: 2000,
        output_bytes: 1048576,
        tests: 50,
        args: 64,
        arg_chars: 4096,
      },
      policies: ['strict', 'standard'],
      default_policy: 'strict',
      comparators: ['exact', 'trailing_whitespace', 'float'],
    });
  });

  test('/healthz is 200; /readyz is 503 with no worker', async () => {
    assert.equal((await stack.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    const ready = await stack.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 503);
    assert.deepEqual(ready.json(), { ready: false, redis: true, workers: 0, reason: 'no worker seen recently' });
  });

  test('the OpenAPI document lists every route and the error codes', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/docs/json' });
    assert.equal(res.statusCode, 200);
    const doc = res.json();
    for (const path of ['/jobs', '/jobs/{id}', '/run', '/info', '/healthz', '/readyz'])
      assert.ok(doc.paths[path], path);
    assert.ok(doc.paths['/run'].post.responses['413']);
    const codes = JSON.stringify(doc.paths['/jobs'].post.responses['400']);
    for (const code of Object.keys(API_ERRORS)) assert.ok(codes.includes(`"${code}"`), `error code ${code} documented`);
  });
});

describe('API: authentication', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ worker: false, env: { SBX_API_KEYS: 'key-one, key-two' } });
  });
  after(async () => {
    await stack.stop();
  });

  test('no key → 401 with WWW-Authenticate', async () => {
    const res = await stack.app.inject({ method: 'POST', url: '/jobs', payload: { code: 'print(1)' } });
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().code, 'unauthorized');
    assert.equal(res.headers['www-authenticate'], 'Bearer');
  });

  test('a wrong key → 401; a right key → 202; probes need none', async () => {
    const wrong = await stack.app.inject({
      method: 'GET',
      url: '/jobs/x',
      headers: { authorization: 'Bearer key-three' },
    });
    assert.equal(wrong.statusCode, 401);
    const right = await stack.app.inject({
      method: 'POST',
      url: '/jobs',
      headers: { authorization: 'Bearer key-two' },
      payload: { code: 'print(1)' },
    });
    assert.equal(right.statusCode, 202);
    assert.equal((await stack.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  });

  test('keys configured → listens on all interfaces by default', () => {
    assert.equal(stack.config.apiHost, '0.0.0.0');
  });
});

describe('API: policy profiles', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ worker: false, env: { SBX_ALLOWED_POLICIES: 'strict' } });
  });
  after(async () => {
    await stack.stop();
  });

  test('an unknown profile is a validation error; a disallowed one is policy_not_allowed', async () => {
    const unknown = await stack.app.inject({
      method: 'POST',
      url: '/jobs',
      payload: { code: 'print(1)', policy: 'lenient' },
    });
    assert.equal(unknown.statusCode, 400);
    assert.equal(unknown.json().code, 'validation_failed');
    const refused = await stack.app.inject({
      method: 'POST',
      url: '/jobs',
      payload: { code: 'print(1)', policy: 'standard' },
    });
    assert.equal(refused.statusCode, 400);
    assert.equal(refused.json().code, 'policy_not_allowed');
    assert.match(refused.json().message, /policy "standard" is not allowed on this server; allowed: strict/);
    const allowed = await stack.app.inject({ method: 'POST', url: '/jobs', payload: { code: 'print(1)' } });
    assert.equal(allowed.statusCode, 202);
    assert.equal((await stack.app.queue.getJob(allowed.json().id))?.data.policy, 'strict');
  });
});

describe('API: a server that allows only the standard profile', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ worker: false, env: { SBX_ALLOWED_POLICIES: 'standard' } });
  });
  after(async () => {
    await stack.stop();
  });

  test('a job that names no profile gets the allowed one, and /info says so', async () => {
    const res = await stack.app.inject({ method: 'POST', url: '/jobs', payload: { code: 'print(1)' } });
    assert.equal(res.statusCode, 202, res.body);
    assert.equal((await stack.app.queue.getJob(res.json().id))?.data.policy, 'standard');
    const info = (await stack.app.inject({ method: 'GET', url: '/info' })).json();
    assert.deepEqual([info.policies, info.default_policy], [['standard'], 'standard']);
  });
});
