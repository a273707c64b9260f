import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { JobData } from '@sbx/shared';
import type { FastifyInstance } from 'fastify';
import WebSocket from 'ws';
import { type Stack, startStack } from '../support/stack.js';

/**
 * The Piston v2 routes without a worker (compat/piston): Piston's checks and texts, the runtime list
 * and version selectors, JSON as text/plain, and what a request becomes on the queue (clamped
 * limits, files, args, stdin). Jobs are queued and never run: SBX_RUN_WAIT_MS is short, and the
 * execute's 500 names the job, which is read back from BullMQ.
 */
const WAIT_MS = 150;
const PY = (extra: Record<string, unknown> = {}) => ({
  language: 'python',
  version: '*',
  files: [{ content: 'print(1)' }],
  ...extra,
});

async function execute(
  app: FastifyInstance,
  payload: unknown,
  headers: Record<string, string> = {},
  url = '/api/v2/execute',
) {
  return app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...headers },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });
}

/** A WebSocket client on the listening app (injectWS is decorated inside the Piston plugin only). */
async function openSocket(app: FastifyInstance, path: string): Promise<WebSocket> {
  const { port } = app.server.address() as AddressInfo;
  const socket = new WebSocket(`ws://127.0.0.1:${port}${path}`);
  await once(socket, 'open');
  return socket;
}

/** The job an execute queued (its 500 says it did not finish in WAIT_MS, and names it). */
async function queued(app: FastifyInstance, res: Awaited<ReturnType<typeof execute>>): Promise<JobData> {
  assert.equal(res.statusCode, 500, res.body);
  const id = /job (\S+) has not finished/.exec(res.json().message)?.[1];
  assert.ok(id, res.body);
  const job = await app.queue.getJob(id);
  assert.ok(job, `job ${id} is queued`);
  return job.data;
}

describe('Piston v2 routes (no worker)', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ worker: false, env: { SBX_RUN_WAIT_MS: String(WAIT_MS) } });
    await stack.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await stack.stop();
  });

  test('GET /api/v2/runtimes, at both prefixes: python with its aliases, a semver version, no other key', async () => {
    for (const url of ['/api/v2/runtimes', '/api/v2/piston/runtimes']) {
      const res = await stack.app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, res.body);
      const runtimes = res.json();
      assert.equal(runtimes.length, 1);
      assert.deepEqual(Object.keys(runtimes[0]).sort(), ['aliases', 'language', 'version']);
      assert.equal(runtimes[0].language, 'python');
      assert.deepEqual(runtimes[0].aliases, ['py', 'py3', 'python3']);
      assert.match(runtimes[0].version, /^3\.11\.\d+$/);
    }
  });

  test("Piston's refusals, in its order, with its texts and {message} alone", async () => {
    const cases: [unknown, string][] = [
      [{}, 'language is required as a string'],
      [[], 'language is required as a string'],
      [{ language: 7, version: '*', files: [] }, 'language is required as a string'],
      [{ language: 'python' }, 'version is required as a string'],
      [{ language: 'python', version: '*' }, 'files is required as an array'],
      [{ language: 'python', version: '*', files: [{ name: 'a.py' }] }, 'files[0].content is required as a string'],
      [PY({ language: 'ruby' }), 'ruby-* runtime is unknown'],
      [PY({ version: '3.10.0' }), 'python-3.10.0 runtime is unknown'],
      [PY({ version: 'not a range' }), 'python-not a range runtime is unknown'],
      [PY({ files: [{ content: 'AA==', encoding: 'base64' }] }), 'files must include at least one utf8 encoded file'],
      [PY({ run_timeout: '3000' }), 'If specified, run_timeout must be a number'],
      [PY({ compile_memory_limit: 'x' }), 'If specified, compile_memory_limit must be a number'],
      [PY({ run_timeout: -5 }), 'run_timeout must be non-negative'],
      [PY({ args: 'a b' }), 'args must be an array of strings'],
      [PY({ args: [{}] }), 'args must be an array of strings'],
      [PY({ stdin: 5 }), 'stdin must be a string'],
    ];
    for (const [body, message] of cases) {
      const res = await execute(stack.app, body);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
      assert.deepEqual(res.json(), { message }, JSON.stringify(body));
    }
  });

  test("what our sandbox refuses comes in Piston's shape too: a file name, a duplicate", async () => {
    const bad = await execute(stack.app, PY({ files: [{ content: 'x' }, { name: '../etc/passwd', content: 'y' }] }));
    assert.equal(bad.statusCode, 400, bad.body);
    assert.deepEqual(Object.keys(bad.json()), ['message']);
    assert.match(bad.json().message, /files\[0\]\.name "\.\.\/etc\/passwd" is not a plain file name/);
    const twice = await execute(
      stack.app,
      PY({ files: [{ content: 'x' }, { name: 'a.txt', content: '1' }, { name: 'a.txt', content: '2' }] }),
    );
    assert.equal(twice.statusCode, 400, twice.body);
    assert.match(twice.json().message, /"a\.txt" is given twice/);
  });

  test('JSON as text/plain is taken on the Piston routes only; other types are its 415', async () => {
    const plain = await execute(stack.app, {}, { 'content-type': 'text/plain;charset=UTF-8' });
    assert.equal(plain.statusCode, 400, plain.body);
    assert.deepEqual(plain.json(), { message: 'language is required as a string' });
    const broken = await execute(stack.app, '{"language":', { 'content-type': 'text/plain' });
    assert.equal(broken.statusCode, 400, broken.body);
    assert.match(broken.json().message, /not valid JSON/);
    const form = await execute(stack.app, 'a=b', { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(form.statusCode, 415, form.body);
    assert.deepEqual(form.json(), { message: 'requests must be of type application/json' });
    const none = await stack.app.inject({ method: 'POST', url: '/api/v2/execute' });
    assert.equal(none.statusCode, 415, none.body);
    const ours = await stack.app.inject({
      method: 'POST',
      url: '/run',
      headers: { 'content-type': 'text/plain' },
      payload: JSON.stringify({ code: 'print(1)' }),
    });
    assert.equal(ours.statusCode, 415, 'our own routes still take JSON only');
    assert.equal(ours.json().code, 'unsupported_media_type');
  });

  test("piston-client's defaults run, clamped and said: run_timeout 3000, run_memory_limit -1, args 1 2 3", async () => {
    const res = await execute(
      stack.app,
      PY({
        stdin: '',
        args: ['1', '2', '3'],
        compile_timeout: 10000,
        run_timeout: 3000,
        compile_memory_limit: -1,
        run_memory_limit: -1,
      }),
      { 'content-type': 'text/plain;charset=UTF-8' },
    );
    const { maxTimeMs, maxMemoryMb } = stack.config;
    assert.equal(
      res.headers['x-sbx-clamped'],
      `run_timeout=${maxTimeMs}, run_memory_limit=${maxMemoryMb * 1024 * 1024}`,
    );
    const data = await queued(stack.app, res);
    assert.deepEqual(data.limits, { time_ms: maxTimeMs, memory_mb: maxMemoryMb });
    assert.deepEqual(data.args, ['1', '2', '3']);
    assert.equal(data.stdin, '\n', "Piston's stdin always ends with a newline");
    assert.equal(data.lane, 'interactive');
    assert.equal(data.policy, 'standard');
    assert.equal(data.environment, 'python');
    assert.equal(data.code, 'print(1)');
    assert.equal(data.files, undefined);
  });

  test('limits within ours pass unchanged (ms, bytes); none given are our defaults; nothing is said', async () => {
    const within = await execute(
      stack.app,
      PY({ run_timeout: 500, run_cpu_time: 800, run_memory_limit: 64 * 1024 * 1024 }),
    );
    assert.equal(within.headers['x-sbx-clamped'], undefined);
    assert.deepEqual((await queued(stack.app, within)).limits, { time_ms: 500, memory_mb: 64 });
    const none = await execute(stack.app, PY({ stdin: 'abc\n', run_timeout: null, run_memory_limit: 0 }));
    assert.equal(none.headers['x-sbx-clamped'], undefined);
    const data = await queued(stack.app, none);
    assert.deepEqual(data.limits, { time_ms: stack.config.defaultTimeMs, memory_mb: stack.config.defaultMemoryMb });
    assert.equal(data.stdin, 'abc\n');
    const tiny = await execute(stack.app, PY({ run_memory_limit: 1000 }));
    assert.equal(tiny.headers['x-sbx-clamped'], `run_memory_limit=${stack.config.minMemoryMb * 1024 * 1024}`);
  });

  test('version selectors and aliases: exact, x-ranges, *, comparators; py, py3, python3', async () => {
    const { version } = (await stack.app.inject({ method: 'GET', url: '/api/v2/runtimes' })).json()[0];
    for (const [language, selector] of [
      ['python', version],
      ['py', '3.x'],
      ['py3', '*'],
      ['python3', '>=3.11'],
      ['python', '3.11'],
      ['python', '^3'],
    ]) {
      const res = await execute(stack.app, PY({ language, version: selector }), {}, '/api/v2/piston/execute');
      assert.equal((await queued(stack.app, res)).environment, 'python', `${language} ${selector}`);
    }
  });

  test('files: the first utf8 file runs, the others go beside it with their encodings', async () => {
    const res = await execute(
      stack.app,
      PY({
        files: [
          { name: 'data.bin', content: Buffer.from([0, 1, 255]).toString('base64'), encoding: 'base64' },
          { name: 'main.py', content: 'import helper' },
          { name: 'helper.py', content: 'X = 1\n' },
          { name: 'note.txt', content: Buffer.from('hi').toString('hex'), encoding: 'hex' },
          { content: 'unnamed', encoding: 'whatever' },
        ],
      }),
    );
    const data = await queued(stack.app, res);
    assert.equal(data.code, 'import helper');
    assert.deepEqual(data.files, [
      { name: 'data.bin', data: Buffer.from([0, 1, 255]).toString('base64') },
      { name: 'helper.py', data: Buffer.from('X = 1\n').toString('base64') },
      { name: 'note.txt', data: Buffer.from('hi').toString('base64') },
      { name: 'file4.code', data: Buffer.from('unnamed').toString('base64') },
    ]);
  });

  test('the WebSocket: data before init is 4003; a refused init is an error message then 4002', async () => {
    const early = await openSocket(stack.app, '/api/v2/connect');
    const closed = new Promise<number>((resolve) => early.on('close', (code) => resolve(code)));
    early.send(JSON.stringify({ type: 'data', stream: 'stdin', data: 'x' }));
    assert.equal(await closed, 4003);

    const refused = await openSocket(stack.app, '/api/v2/piston/connect');
    const messages: unknown[] = [];
    refused.on('message', (m) => messages.push(JSON.parse(String(m))));
    const code = new Promise<number>((resolve) => refused.on('close', (c) => resolve(c)));
    refused.send(JSON.stringify({ type: 'init', ...PY({ language: 'cobol' }) }));
    assert.equal(await code, 4002);
    assert.deepEqual(messages, [{ type: 'error', message: 'cobol-* runtime is unknown' }]);
  });

  test('the WebSocket closes a socket that sends no init within a second (4001)', async () => {
    const idle = await openSocket(stack.app, '/api/v2/connect');
    const code = await new Promise<number>((resolve) => idle.on('close', (c) => resolve(c)));
    assert.equal(code, 4001);
  });
});

describe('Piston v2 routes with API keys', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ worker: false, env: { SBX_API_KEYS: 'piston-key' } });
    await stack.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await stack.stop();
  });

  test("no key: 401 in Piston's shape; the key as a Bearer header is let through", async () => {
    const refused = await execute(stack.app, {});
    assert.equal(refused.statusCode, 401);
    assert.deepEqual(Object.keys(refused.json()), ['message']);
    const allowed = await execute(stack.app, {}, { authorization: 'Bearer piston-key' });
    assert.deepEqual(allowed.json(), { message: 'language is required as a string' });
  });

  test('a refused WebSocket upgrade is answered 401 and its socket closed', async () => {
    const address = stack.app.server.address();
    assert.ok(address && typeof address === 'object');
    const socket = new WebSocket(`ws://127.0.0.1:${address.port}/api/v2/connect`);
    const status = await new Promise<number>((resolve, reject) => {
      socket.on('unexpected-response', (_req, res) => {
        res.resume();
        // The server ends the connection itself: nothing of the client's closes it here.
        res.socket.on('close', () => resolve(res.statusCode ?? 0));
      });
      socket.on('open', () => reject(new Error('upgraded without a key')));
      socket.on('error', reject);
    });
    assert.equal(status, 401);
  });
});

describe('SBX_PISTON_API=off', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ worker: false, env: { SBX_PISTON_API: 'off' } });
  });
  after(async () => {
    await stack.stop();
  });

  test('no Piston route', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/api/v2/runtimes' });
    assert.equal(res.statusCode, 404);
  });
});

describe("Piston v2 routes go through our admission: the queue cap and the rate limit, in Piston's shape", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      worker: false,
      env: { SBX_RUN_WAIT_MS: String(WAIT_MS), SBX_MAX_QUEUED: '1', SBX_RATE_PER_MINUTE: '4' },
    });
  });
  after(async () => {
    await stack.stop();
  });

  test('a second job waits for no room: 503 {message} with Retry-After; past the rate, 429', async () => {
    await queued(stack.app, await execute(stack.app, PY()));
    const full = await execute(stack.app, PY());
    assert.equal(full.statusCode, 503, full.body);
    assert.deepEqual(Object.keys(full.json()), ['message']);
    assert.match(full.json().message, /the queue already holds 1 waiting jobs/);
    assert.ok(full.headers['retry-after']);
    let last = full;
    for (let i = 0; i < 3 && last.statusCode !== 429; i++) last = await execute(stack.app, PY());
    assert.equal(last.statusCode, 429, last.body);
    assert.deepEqual(Object.keys(last.json()), ['message']);
    assert.match(last.json().message, /rate limit of 4 requests per minute/);
    // Counted by route, and the refusals under our own codes.
    const metrics = await stack.app.metrics.registry.metrics();
    const series = (pattern: RegExp) => assert.ok(pattern.test(metrics), `${pattern} in the metrics`);
    series(
      /sbx_http_request_duration_seconds_count\{[^}]*route="\/api\/v2\/execute"[^}]*status_code="503"[^}]*\} [1-9]/,
    );
    series(/sbx_api_errors_total\{code="queue_full"\} [1-9]/);
    series(/sbx_compat_requests_total\{api="piston",route="POST \/api\/v2\/execute",status_code="503"\} [1-9]/);
    series(/sbx_api_errors_total\{code="rate_limited"\} 1\n/);
  });
});
