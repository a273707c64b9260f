import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { generateWebhookSecret } from '@sbx/webhooks';
import { type Stack, startStack } from '../support/stack.js';
import { newApiKey, tenantEntry, writeTenantsFile } from '../support/tenants-file.js';

/**
 * Judge0 CE 1.13's contract on our API without a worker: validation and its 422 texts, the read-only
 * routes, fields, base64 input, trailing slashes, CORS, numbers as strings, an all-null body, auth.
 */
const KEY = 'judge0-test-key';
const ALL_NULL = {
  source_code: 'print(1)',
  language_id: 71,
  compiler_options: null,
  command_line_arguments: null,
  stdin: null,
  expected_output: null,
  cpu_time_limit: null,
  cpu_extra_time: null,
  wall_time_limit: null,
  memory_limit: null,
  stack_limit: null,
  max_processes_and_or_threads: null,
  enable_per_process_and_thread_time_limit: null,
  enable_per_process_and_thread_memory_limit: null,
  max_file_size: null,
  redirect_stderr_to_stdout: null,
  callback_url: null,
  additional_files: null,
  enable_network: null,
  number_of_runs: null,
};

/** app/helpers/config.rb's config_info, in its order: clients such as judge0-python check the keys. */
const CONFIG_INFO_KEYS = [
  'maintenance_mode',
  'enable_wait_result',
  'enable_compiler_options',
  'allowed_languages_for_compile_options',
  'enable_command_line_arguments',
  'enable_submission_delete',
  'enable_callbacks',
  'callbacks_max_tries',
  'callbacks_timeout',
  'enable_additional_files',
  'max_queue_size',
  'cpu_time_limit',
  'max_cpu_time_limit',
  'cpu_extra_time',
  'max_cpu_extra_time',
  'wall_time_limit',
  'max_wall_time_limit',
  'memory_limit',
  'max_memory_limit',
  'stack_limit',
  'max_stack_limit',
  'max_processes_and_or_threads',
  'max_max_processes_and_or_threads',
  'enable_per_process_and_thread_time_limit',
  'allow_enable_per_process_and_thread_time_limit',
  'enable_per_process_and_thread_memory_limit',
  'allow_enable_per_process_and_thread_memory_limit',
  'max_file_size',
  'max_max_file_size',
  'number_of_runs',
  'max_number_of_runs',
  'redirect_stderr_to_stdout',
  'max_extract_size',
  'enable_batched_submissions',
  'max_submission_batch_size',
  'submission_cache_duration',
  'use_docs_as_homepage',
  'allow_enable_network',
  'enable_network',
];

describe('Judge0 API (no worker)', () => {
  let stack: Stack;
  const auth = { 'x-auth-token': KEY };
  const post = (url: string, payload: unknown, headers: Record<string, string> = auth) =>
    stack.app.inject({ method: 'POST', url, payload: payload as Record<string, unknown>, headers });
  const get = (url: string, headers: Record<string, string> = auth) =>
    stack.app.inject({ method: 'GET', url, headers });
  before(async () => {
    stack = await startStack({ worker: false, env: { SBX_API_KEYS: KEY, SBX_RUN_WAIT_MS: '300' } });
  });
  after(async () => {
    await stack.stop();
  });

  test('X-Auth-Token is our key: without it 401 with an empty body, with a wrong one too', async () => {
    const none = await get('/statuses', {});
    assert.equal(none.statusCode, 401);
    assert.equal(none.body, '');
    assert.equal((await get('/statuses', { 'x-auth-token': 'nope' })).statusCode, 401);
    assert.equal((await get('/statuses')).statusCode, 200);
    assert.equal((await get('/statuses', { authorization: `Bearer ${KEY}` })).statusCode, 200);
  });

  test('statuses 1-14 with Judge0 descriptions; languages list Python 3 under 71 and the hosted ids', async () => {
    const statuses = (await get('/statuses')).json();
    assert.equal(statuses.length, 14);
    assert.deepEqual(statuses[10], { id: 11, description: 'Runtime Error (NZEC)' });
    const languages = (await get('/languages')).json() as { id: number; name: string }[];
    assert.deepEqual(
      languages.map((l) => l.id),
      [71, 92, 100, 109, 113],
    );
    for (const l of languages) assert.match(l.name, /^Python \(3\.\d+/);
    assert.deepEqual(Object.keys(languages[0] ?? {}), ['id', 'name']);
    const one = (await get('/languages/71')).json();
    assert.deepEqual(Object.keys(one), ['id', 'name', 'is_archived', 'source_file', 'compile_cmd', 'run_cmd']);
    assert.equal(one.compile_cmd, null);
    const all = (await get('/languages/all')).json();
    assert.deepEqual(Object.keys(all[0]), ['id', 'name', 'is_archived']);
    const missing = await get('/languages/70');
    assert.equal(missing.statusCode, 404);
    assert.deepEqual(missing.json(), { status: 404, error: 'Not Found' });
  });

  test('about, version and config_info: every Judge0 key, with our limits in its units', async () => {
    assert.equal((await get('/version')).body, '1.13.1');
    assert.deepEqual(Object.keys((await get('/about')).json()), ['version', 'homepage', 'source_code', 'maintainer']);
    const info = (await get('/config_info')).json();
    assert.deepEqual(Object.keys(info), CONFIG_INFO_KEYS);
    assert.equal(info.max_cpu_time_limit, stack.config.maxTimeMs / 1000);
    assert.equal(info.max_memory_limit, stack.config.maxMemoryMb * 1024);
    assert.equal(info.memory_limit, stack.config.defaultMemoryMb * 1024);
    assert.equal(info.enable_network, false);
    assert.equal(info.allow_enable_network, false);
    assert.equal(info.max_submission_batch_size, 20);
    assert.equal(info.enable_callbacks, false, 'no webhook secret here');
    const workers = (await get('/workers')).json();
    assert.deepEqual(Object.keys(workers[0]), ['queue', 'size', 'available', 'idle', 'working', 'paused', 'failed']);
  });

  test('every key null is a valid submission: 201 with a token, the job queued on the batch lane', async () => {
    const res = await post('/submissions', ALL_NULL);
    assert.equal(res.statusCode, 201, res.body);
    const { token } = res.json();
    assert.deepEqual(Object.keys(res.json()), ['token']);
    const view = (await get(`/jobs/${token}`, { authorization: `Bearer ${KEY}` })).json();
    assert.equal(view.state, 'queued');
    assert.equal(view.lane, 'batch');
    const shown = await get(`/submissions/${token}`);
    assert.equal(shown.statusCode, 200);
    assert.deepEqual(shown.json(), {
      stdout: null,
      time: null,
      memory: null,
      stderr: null,
      token,
      compile_output: null,
      message: null,
      status: { id: 1, description: 'In Queue' },
    });
  });

  test('numbers as strings, query-string parameters and trailing slashes are taken', async () => {
    const res = await post('/submissions/?base64_encoded=false', {
      source_code: 'print(2)',
      language_id: '71',
      cpu_time_limit: '1.5',
      memory_limit: '100000',
    });
    assert.equal(res.statusCode, 201, res.body);
    const viaQuery = await stack.app.inject({
      method: 'POST',
      url: `/submissions?language_id=100&source_code=${encodeURIComponent('print(3)')}`,
      headers: auth,
    });
    assert.equal(viaQuery.statusCode, 201, viaQuery.body);
    const token = viaQuery.json().token;
    const shown = (await get(`/submissions/${token}/?fields=language_id,source_code,language`)).json();
    assert.deepEqual(shown, {
      source_code: 'print(3)',
      language_id: 100,
      language: { id: 100, name: shown.language.name },
    });
  });

  test("refusals carry Judge0's 422 shapes and texts", async () => {
    const cases: [Record<string, unknown>, Record<string, string[]>][] = [
      [{ source_code: 'print(1)', language_id: 999 }, { language_id: ["language with id 999 doesn't exist"] }],
      [{ source_code: 'print(1)', language_id: 70 }, { language_id: ["language with id 70 doesn't exist"] }],
      [{ source_code: 'print(1)' }, { language_id: ["can't be blank"] }],
      [{ language_id: 71 }, { source_code: ["can't be blank"] }],
      [
        { source_code: 'x', language_id: 71, compiler_options: '-O2' },
        { compiler_options: ['setting compiler options is only allowed for compiled languages'] },
      ],
      [
        { source_code: 'x', language_id: 71, enable_network: true },
        { enable_network: ['enabling network is not allowed'] },
      ],
      [
        { source_code: 'x', language_id: 71, cpu_time_limit: 100 },
        { cpu_time_limit: [`must be less than or equal to ${(stack.config.maxTimeMs / 1000).toFixed(1)}`] },
      ],
      [
        { source_code: 'x', language_id: 71, memory_limit: 10_000_000 },
        { memory_limit: [`must be less than or equal to ${stack.config.maxMemoryMb * 1024}`] },
      ],
      [{ source_code: 'x', language_id: 71, memory_limit: 'lots' }, { memory_limit: ['is not a number'] }],
      [
        { source_code: 'x', language_id: 71, stdin: 'ab', expected_output: 'x'.repeat(stack.config.maxStdinBytes) },
        {
          expected_output: [
            `is too long (stdin and expected_output are ${stack.config.maxStdinBytes + 2} bytes together; the maximum is ${stack.config.maxStdinBytes})`,
          ],
        },
      ],
      [
        { source_code: 'x', language_id: 71, callback_url: 'http://example.com/cb' },
        { callback_url: ['setting callback is not allowed'] },
      ],
    ];
    for (const [body, errors] of cases) {
      const res = await post('/submissions', body);
      assert.equal(res.statusCode, 422, JSON.stringify(body));
      assert.deepEqual(res.json(), errors, JSON.stringify(body));
    }
  });

  test('fields: unknown ones are a 400 naming them, * gives every attribute in column order', async () => {
    const token = (
      await post('/submissions', { source_code: 'print(1)', language_id: 71, stdin: 'in', expected_output: 'out' })
    ).json().token;
    const bad = await get(`/submissions/${token}?fields=stdout,bogus,nope`);
    assert.equal(bad.statusCode, 400);
    assert.deepEqual(bad.json(), { error: 'invalid fields: [bogus, nope]' });
    const every = (await get(`/submissions/${token}?fields=*`)).json();
    assert.equal(Object.keys(every).length, 35);
    assert.equal(Object.keys(every)[0], 'source_code');
    assert.equal(every.expected_output, 'out');
    assert.equal(every.cpu_time_limit, (stack.config.defaultTimeMs / 1000).toFixed(1));
    assert.equal(every.memory_limit, stack.config.defaultMemoryMb * 1024);
    assert.equal(every.status_id, 1);
    assert.match(every.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const missing = await get('/submissions/00000000-0000-4000-8000-000000000000');
    assert.equal(missing.statusCode, 404);
  });

  test('base64_encoded=true decodes the source and stdin, and answers text base64 (encode64 lines)', async () => {
    const code = 'print(input()[::-1])';
    const res = await post('/submissions?base64_encoded=true', {
      source_code: Buffer.from(code).toString('base64'),
      stdin: Buffer.from('abc\n').toString('base64'),
      language_id: 71,
    });
    assert.equal(res.statusCode, 201, res.body);
    const { token } = res.json();
    const shown = (await get(`/submissions/${token}?base64_encoded=true&fields=source_code,stdin`)).json();
    assert.equal(shown.source_code, `${Buffer.from(code).toString('base64')}\n`);
    assert.equal(Buffer.from(shown.stdin, 'base64').toString(), 'abc\n');
    const plain = (await get(`/submissions/${token}?fields=source_code`)).json();
    assert.equal(plain.source_code, code);
  });

  test('batch: each submission its own token or 422 body; GET by tokens, null for unknown ones', async () => {
    const res = await post('/submissions/batch', {
      submissions: [
        { source_code: 'print(1)', language_id: 71 },
        { source_code: 'print(2)', language_id: 4 },
      ],
    });
    assert.equal(res.statusCode, 201, res.body);
    const [first, second] = res.json();
    assert.match(first.token, /^[0-9a-f-]{36}$/);
    assert.deepEqual(second, { language_id: ["language with id 4 doesn't exist"] });
    const unknown = '00000000-0000-4000-8000-000000000000';
    const got = (await get(`/submissions/batch?tokens=${first.token},${unknown}&fields=token,status_id`)).json();
    assert.deepEqual(got, { submissions: [{ status_id: 1, token: first.token }, null] });
    assert.equal((await post('/submissions/batch', { submissions: [] })).statusCode, 400);
    const tooMany = await post('/submissions/batch', {
      submissions: Array(21).fill({ source_code: 'x', language_id: 71 }),
    });
    assert.equal(tooMany.statusCode, 400);
    assert.deepEqual(tooMany.json(), { error: 'number of submissions in a batch should be less than or equal to 20' });
    const none = await post('/submissions/batch', { submissions: [{ language_id: 71 }] });
    assert.equal(none.statusCode, 422);
  });

  test('wait=true queues on the interactive lane and, unfinished within SBX_RUN_WAIT_MS, answers the status so far', async () => {
    const res = await post('/submissions?wait=true', { source_code: 'print(1)', language_id: 71 });
    assert.equal(res.statusCode, 201, res.body);
    const shown = res.json();
    assert.deepEqual(shown.status, { id: 1, description: 'In Queue' });
    const view = (await get(`/jobs/${shown.token}`, { authorization: `Bearer ${KEY}` })).json();
    assert.equal(view.lane, 'interactive');
  });

  test('its record outlives a waiting job, and lives as long as the result once there is one (a cancel here)', async () => {
    const { token } = (await post('/submissions', { source_code: 'print(1)', language_id: 71 })).json();
    const key = `${stack.config.prefix}:judge0:${token}`;
    const ttl = stack.config.resultTtlSeconds;
    assert.ok((await stack.app.redis.ttl(key)) > ttl, 'saved for longer than a result lives');
    const cancel = await stack.app.inject({
      method: 'DELETE',
      url: `/jobs/${token}`,
      headers: { authorization: `Bearer ${KEY}` },
    });
    assert.equal(cancel.statusCode, 200, cancel.body);
    const left = await stack.app.redis.ttl(key);
    assert.ok(left > 0 && left <= ttl, `ttl ${left}`);
    const shown = (await get(`/submissions/${token}`)).json();
    assert.deepEqual(shown.status, { id: 13, description: 'Internal Error' });
    assert.equal(shown.message, 'cancelled by request');
  });

  test('a form body is read as Judge0 (Rails) reads one', async () => {
    const res = await stack.app.inject({
      method: 'POST',
      url: '/submissions',
      headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'language_id=71&source_code=print%28%22form%22%29&memory_limit=',
    });
    assert.equal(res.statusCode, 201, res.body);
    const shown = (await get(`/submissions/${res.json().token}?fields=source_code`)).json();
    assert.equal(shown.source_code, 'print("form")');
  });

  test('CORS from any origin, preflight without a key', async () => {
    const pre = await stack.app.inject({
      method: 'OPTIONS',
      url: '/submissions/',
      headers: { origin: 'https://ide.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(pre.statusCode, 204);
    assert.equal(pre.headers['access-control-allow-origin'], '*');
    assert.match(String(pre.headers['access-control-allow-headers']), /x-auth-token/);
    const res = await get('/languages', { ...auth, origin: 'https://ide.example' });
    assert.equal(res.headers['access-control-allow-origin'], '*');
  });

  test('DELETE is refused as Judge0 does by default; metrics count compat requests by route', async () => {
    const del = await stack.app.inject({ method: 'DELETE', url: '/submissions/abc', headers: auth });
    assert.equal(del.statusCode, 400);
    assert.deepEqual(del.json(), { error: 'delete not allowed' });
    const text = await stack.app.metrics.registry.metrics();
    assert.match(text, /sbx_compat_requests_total\{api="judge0",route="GET \/statuses",status_code="200"\} [1-9]/);
    assert.match(text, /sbx_compat_requests_total\{api="judge0",route="POST \/submissions",status_code="201"\} [1-9]/);
  });
});

describe('Judge0 API with SBX_CORS_ORIGINS set', () => {
  test('a preflight from a configured origin allows X-Auth-Token; any other origin still gets *', async () => {
    const stack = await startStack({
      worker: false,
      env: { SBX_API_KEYS: KEY, SBX_CORS_ORIGINS: 'https://grader.example' },
    });
    try {
      const preflight = (origin: string) =>
        stack.app.inject({
          method: 'OPTIONS',
          url: '/submissions',
          headers: {
            origin,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'x-auth-token',
          },
        });
      const configured = await preflight('https://grader.example');
      assert.equal(configured.statusCode, 204);
      assert.match(String(configured.headers['access-control-allow-headers']), /x-auth-token/);
      const other = await preflight('https://ide.example');
      assert.equal(other.statusCode, 204);
      assert.equal(other.headers['access-control-allow-origin'], '*');
    } finally {
      await stack.stop();
    }
  });
});

describe('Judge0 API under a prefix, and switched off', () => {
  test('SBX_JUDGE0_PREFIX moves the routes; SBX_JUDGE0_API=off removes them', async () => {
    const prefixed = await startStack({ worker: false, env: { SBX_JUDGE0_PREFIX: '/judge0' } });
    try {
      assert.equal((await prefixed.app.inject({ method: 'GET', url: '/judge0/statuses' })).statusCode, 200);
      assert.equal((await prefixed.app.inject({ method: 'GET', url: '/statuses' })).statusCode, 404);
    } finally {
      await prefixed.stop();
    }
    const off = await startStack({ worker: false, env: { SBX_JUDGE0_API: 'off' } });
    try {
      assert.equal((await off.app.inject({ method: 'GET', url: '/statuses' })).statusCode, 404);
    } finally {
      await off.stop();
    }
  });
});

describe('Judge0 API under our admission: tenants, rate limits, queue caps', () => {
  test("a tenant's own maxima are config_info's and the 422's; its rate and the queue cap answer in Judge0's shapes", async () => {
    const key = newApiKey();
    const tenants = await writeTenantsFile([tenantEntry('grader', key, { max_time_ms: 1500, rate_per_minute: 6 })]);
    const stack = await startStack({ worker: false, env: { SBX_TENANTS_FILE: tenants.path, SBX_MAX_QUEUED: '1' } });
    const auth = { 'x-auth-token': key };
    try {
      const info = (await stack.app.inject({ method: 'GET', url: '/config_info', headers: auth })).json();
      assert.equal(info.max_cpu_time_limit, 1.5);
      assert.equal(info.max_queue_size, 1);
      const tooLong = await stack.app.inject({
        method: 'POST',
        url: '/submissions',
        headers: auth,
        payload: { source_code: 'x', language_id: 71, wall_time_limit: 2 },
      });
      assert.deepEqual(tooLong.json(), { wall_time_limit: ['must be less than or equal to 1.5'] });
      const submit = () =>
        stack.app.inject({
          method: 'POST',
          url: '/submissions',
          headers: auth,
          payload: { source_code: 'x', language_id: 71 },
        });
      assert.equal((await submit()).statusCode, 201);
      const full = await submit();
      assert.equal(full.statusCode, 503);
      assert.deepEqual(full.json(), { error: 'queue is full' });
      // Four requests so far; the tenant may make six a minute: the seventh is refused.
      const codes: number[] = [];
      for (let i = 0; i < 3; i++)
        codes.push((await stack.app.inject({ method: 'GET', url: '/statuses', headers: auth })).statusCode);
      assert.deepEqual(codes, [200, 200, 429]);
      const limited = await stack.app.inject({ method: 'GET', url: '/statuses', headers: auth });
      assert.equal(limited.statusCode, 429);
      assert.match(limited.json().error, /rate limit of 6 requests per minute/);
      assert.ok(limited.headers['retry-after']);
      const text = await stack.app.metrics.registry.metrics();
      assert.match(text, /sbx_api_errors_total\{code="queue_full"\} 1/);
      assert.match(text, /sbx_api_errors_total\{code="rate_limited"\} 2/);
    } finally {
      await stack.stop();
      await tenants.remove();
    }
  });

  test('a batch the queue cap cuts short keeps the tokens it gave; a callback_url we cannot call is a 422', async () => {
    const stack = await startStack({
      worker: false,
      env: { SBX_MAX_QUEUED: '1', SBX_WEBHOOK_SECRET: generateWebhookSecret() },
    });
    try {
      const one = { source_code: 'print(1)', language_id: 71 };
      const res = await stack.app.inject({
        method: 'POST',
        url: '/submissions/batch',
        payload: { submissions: [one, one] },
      });
      assert.equal(res.statusCode, 201, res.body);
      const [queued, refused] = res.json();
      assert.match(queued.token, /^[0-9a-f-]{36}$/);
      assert.deepEqual(refused, { error: 'queue is full' });
      const info = (await stack.app.inject({ method: 'GET', url: '/config_info' })).json();
      assert.equal(info.enable_callbacks, true);
      const bad = await stack.app.inject({
        method: 'POST',
        url: '/submissions',
        payload: { ...one, callback_url: 'ftp://example.com/x' },
      });
      assert.equal(bad.statusCode, 422);
      assert.deepEqual(Object.keys(bad.json()), ['callback_url']);
    } finally {
      await stack.stop();
    }
  });
});
