import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { API_ERRORS } from '@sbx/shared';
import { type Stack, startStack } from '../support/stack.js';

const PYTHON_CLIENT = fileURLToPath(new URL('../../clients/python', import.meta.url));

/** Bad input gets a clear 4xx with a stable code, and nothing reaches the queue. No worker runs here. */
describe('API: bad requests', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ worker: false, env: { SBX_MAX_CODE_BYTES: '1000', SBX_MAX_STDIN_BYTES: '2000' } });
  });
  after(async () => {
    await stack.stop();
  });

  const post = (payload: string | Buffer | object, headers: Record<string, string> = {}) =>
    stack.app.inject({
      method: 'POST',
      url: '/jobs',
      headers: { 'content-type': 'application/json', ...headers },
      payload: typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload),
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

  test('a body that is not valid UTF-8 → 400 invalid_json, not code with U+FFFD in it', async () => {
    const before = await stack.app.queue.count();
    for (const bad of [[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
      const payload = Buffer.concat([Buffer.from('{"code": "print(\''), Buffer.from(bad), Buffer.from('\')"}')]);
      const res = await post(payload);
      assert.equal(res.statusCode, 400, res.body);
      assert.deepEqual(res.json(), {
        statusCode: 400,
        code: 'invalid_json',
        message: 'the request body is not valid UTF-8; send JSON encoded as UTF-8',
      });
    }
    assert.equal(await stack.app.queue.count(), before, 'nothing was queued');
  });

  test('valid UTF-8 is taken as it is: multi-byte code, a BOM, and poisoning still refused', async () => {
    const res = await post(Buffer.from('\ufeff{"code": "print(\'é😀\')"}'));
    assert.equal(res.statusCode, 202, res.body);
    assert.equal((await stack.app.queue.getJob(res.json().id))?.data.code, "print('é😀')");
    const poisoned = await post('{"code": "print(1)", "__proto__": {"x": 1}}');
    assert.equal(poisoned.statusCode, 400);
    assert.equal(poisoned.json().code, 'invalid_json');
  });

  const get = (url: string, method: 'GET' | 'PUT' | 'PATCH' | 'OPTIONS' = 'GET') => stack.app.inject({ method, url });
  const assertShape = (res: Awaited<ReturnType<typeof get>>, status: number, code: string) => {
    assert.equal(res.statusCode, status, res.body);
    const body = res.json();
    assert.deepEqual(Object.keys(body).sort(), ['code', 'message', 'statusCode']);
    assert.equal(body.statusCode, status);
    assert.equal(body.code, code);
    assert.equal(API_ERRORS[code as keyof typeof API_ERRORS], status);
    assert.ok(body.message.length > 0);
    assert.ok(res.headers['x-request-id'], 'the request id, as on every answer');
    return body;
  };

  test("Fastify's router refusals come in the documented shape", async () => {
    const long = assertShape(await get(`/jobs/${'a'.repeat(5000)}`), 400, 'validation_failed');
    assert.match(long.message, /longer than 100 characters/);
    assertShape(await get(`/jobs/${'a'.repeat(80)}`), 400, 'validation_failed');
    for (const url of ['/jobs/%ZZ', '/jobs/%E0%A4%A', '/%C0%AF', '/docs/%'])
      assert.match(assertShape(await get(url), 400, 'bad_request').message, /not valid/);
    const errors = await stack.app.metrics.errors.get();
    assert.ok((errors.values.find((v) => v.labels.code === 'bad_request')?.value ?? 0) >= 4, 'and they are counted');
  });

  test('a known path with a method it does not take → 405 with Allow; an unknown one stays 404', async () => {
    const put = await get('/jobs', 'PUT');
    assert.match(assertShape(put, 405, 'method_not_allowed').message, /\/jobs takes GET, HEAD, POST, not PUT/);
    assert.equal(put.headers.allow, 'GET, HEAD, POST');
    assert.equal((await get('/jobs/abc', 'PATCH')).headers.allow, 'DELETE, GET, HEAD');
    assertShape(await get('/info', 'OPTIONS'), 405, 'method_not_allowed');
    assertShape(await get('/nope', 'PUT'), 404, 'not_found');
  });

  test('a body unlike its Content-Length → 400 bad_request', async () => {
    const res = await post('{"code": "print(1)"}', { 'content-length': '5' });
    assertShape(res, 400, 'bad_request');
  });

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
    const { position } = view.json();
    assert.ok(Number.isInteger(position), `a position: ${view.body}`);
    assert.deepEqual(view.json(), { id: res.json().id, state: 'queued', lane: 'batch', position, eta_seconds: null });
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
        artifacts: 16,
        artifact_bytes: 4194304,
        args: 64,
        arg_chars: 4096,
        queued: 1000,
        queued_total: 10000,
        running: 0,
        stored_bytes: 1073741824,
        interactive: {
          wall_ms: 60_000,
          idle_input_ms: 30_000,
          max_input_call_bytes: 65_536,
          max_input_bytes: 1_048_576,
        },
      },
      lanes: ['interactive', 'batch'],
      weight: 1,
      // The test stacks serve python only unless asked; no worker: no versions yet.
      environments: [
        { name: 'python', description: 'CPython and its standard library.', default: true, versions: null, workers: 0 },
      ],
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

/** What only a real socket shows: clients that send the whole body before reading, and Node's own refusals. */
describe('API: bad requests over a real socket', () => {
  let stack: Stack;
  let url = '';
  let port = 0;
  before(async () => {
    stack = await startStack({ worker: false, env: { SBX_MAX_CODE_BYTES: '1000', SBX_MAX_STDIN_BYTES: '2000' } });
    await stack.app.listen({ host: '127.0.0.1', port: 0 });
    port = (stack.app.server.address() as AddressInfo).port;
    url = `http://127.0.0.1:${port}`;
  });
  after(async () => {
    await stack.stop();
  });

  /** Runs Python with the client on its path; the script prints one JSON line. */
  const python = (script: string) =>
    new Promise<unknown>((resolve, reject) => {
      const child = spawn('python3', ['-c', script, url], { env: { ...process.env, PYTHONPATH: PYTHON_CLIENT } });
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
      });
      child.stderr.on('data', (c: Buffer) => {
        out += c.toString();
      });
      child.on('exit', (code) => {
        if (code !== 0) reject(new Error(`python exited ${code}: ${out}`));
        else resolve(JSON.parse(out));
      });
    });

  const count413 = async () =>
    (await stack.app.metrics.requests.get()).values.find(
      (v) =>
        v.metricName === 'sbx_http_request_duration_seconds_count' &&
        v.labels.route === '/jobs' &&
        String(v.labels.status_code) === '413',
    )?.value ?? 0;

  // 16 MB: far more than the socket buffers hold, so a server that answers without reading resets urllib.
  const URLLIB_POST = `
import json, sys, urllib.error, urllib.request
body = b'{"code": "' + b'x' * 16_000_000 + b'"}'
results = []
for chunked in (False, True):
    data = iter([body[i:i + 65536] for i in range(0, len(body), 65536)]) if chunked else body
    req = urllib.request.Request(sys.argv[1] + "/jobs", data=data, method="POST",
                                 headers={"content-type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=30)
        results.append({"accepted": True})
    except urllib.error.HTTPError as err:
        results.append({"status": err.code, "body": json.loads(err.read())})
    except urllib.error.URLError as err:
        results.append({"unreachable": str(err.reason)})
print(json.dumps(results))
`;

  test('urllib sending a body over the limit reads the 413, with Content-Length or chunked', async () => {
    const before = await stack.app.queue.count();
    const results = await python(URLLIB_POST);
    const expected = {
      status: 413,
      body: {
        statusCode: 413,
        code: 'payload_too_large',
        message: 'the request body is larger than this server accepts',
      },
    };
    assert.deepEqual(results, [expected, expected]);
    assert.equal(await stack.app.queue.count(), before, 'nothing was queued');
  });

  test('the Python client gets ApiError 413 once, never a retry; with the limits known, nothing is sent', async () => {
    const before = await count413();
    const results = await python(`
import json, sys
from sbx_client import ApiError, Client
out = []
def attempt(client, **kwargs):
    try:
        client.submit(**kwargs)
        out.append("accepted")
    except ApiError as err:
        out.append([err.status, err.code, err.message])
attempt(Client(sys.argv[1]), code="x" * 16_000_000)
informed = Client(sys.argv[1])
informed.info()
attempt(informed, code="x" * 16_000_000)
attempt(informed, code="é" * 501)
attempt(informed, code="print(1)", stdin="x" * 1990, args=["y" * 11])
attempt(Client(sys.argv[1], max_input_bytes=5), code="print(1)", tests=[{"stdin": "abc", "expected_output": "abc"}])
print(json.dumps(out))
`);
    assert.deepEqual(results, [
      [413, 'payload_too_large', 'the request body is larger than this server accepts'],
      [413, 'code_too_large', 'code is 16000000 bytes; the maximum is 1000'],
      [413, 'code_too_large', 'code is 1002 bytes; the maximum is 1000'],
      [413, 'stdin_too_large', 'stdin, arguments and test data are 2001 bytes together; the maximum is 2000'],
      [413, 'stdin_too_large', 'stdin, arguments and test data are 6 bytes together; the maximum is 5'],
    ]);
    assert.equal(
      await count413(),
      before + 1,
      'one 413 reached the server: no retry, nothing sent once limits were known',
    );
  });

  /** Writes raw bytes and returns the status and parsed body of the answer (the server closes after it). */
  const raw = (request: string) =>
    new Promise<{ status: number; body: unknown }>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let answer = '';
      socket.on('data', (c: Buffer) => {
        answer += c.toString();
      });
      socket.on('error', reject);
      socket.on('close', () => {
        const [head = '', text = ''] = answer.split('\r\n\r\n');
        resolve({ status: Number(head.split(' ')[1]), body: text ? JSON.parse(text) : null });
      });
      socket.write(request);
    });

  test("Node's own refusals come in the documented shape", async () => {
    const cases: [string, number, string][] = [
      [`GET /info HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'headers_too_large'],
      [`GET /jobs?ids=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431, 'headers_too_large'],
      ['FOO /jobs HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'bad_request'],
      ['GET /info HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n', 400, 'bad_request'],
      ['GET /info HTTP/1.1\r\nConnection: close\r\n\r\n', 400, 'bad_request'],
      [
        'POST /jobs HTTP/1.1\r\nHost: x\r\nExpect: something\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n',
        417,
        'expectation_failed',
      ],
      ['GET /jobs/%ZZ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 400, 'bad_request'],
    ];
    for (const [request, status, code] of cases) {
      const { status: got, body } = await raw(request);
      assert.equal(got, status, `${request.slice(0, 40)}: ${JSON.stringify(body)}`);
      const { message, ...rest } = body as { message: unknown };
      assert.deepEqual(rest, { statusCode: status, code }, request.slice(0, 40));
      assert.equal(API_ERRORS[code as keyof typeof API_ERRORS], status);
      assert.ok(typeof message === 'string' && message.length > 0);
    }
    const ok = await raw('GET /healthz HTTP/1.0\r\n\r\n');
    assert.deepEqual(ok, { status: 200, body: { ok: true } }, 'HTTP/1.0 needs no Host');
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
