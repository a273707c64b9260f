import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError, type JobRequest, type Tenant } from '@sbx/shared';
import {
  defaultPolicy,
  inBatch,
  type SubmissionContext,
  tenantLimits,
  type ValidationConfig,
  validateJob,
} from '../../apps/api/src/services/job-validation.js';

const config: ValidationConfig = {
  maxCodeBytes: 100,
  maxStdinBytes: 50,
  defaultTimeMs: 2000,
  maxTimeMs: 10_000,
  defaultMemoryMb: 256,
  maxMemoryMb: 1024,
  minMemoryMb: 64,
  allowedPolicies: ['strict', 'standard'],
  environments: ['python', 'python-data'],
  maxTests: 3,
  interactiveWallMs: 60_000,
  interactiveIdleMs: 30_000,
};

const tenant: Tenant = {
  id: 'acme',
  maxTimeMs: 5000,
  maxMemoryMb: 512,
  ratePerMinute: 600,
  maxQueued: 100,
  maxRunning: 0,
  maxStoredBytes: 1 << 20,
  environments: null,
  lanes: ['interactive', 'batch'],
  weight: 1,
};

const now = new Date('2030-01-02T03:04:05.678Z');

function context(overrides: Partial<SubmissionContext> = {}): SubmissionContext {
  return { config, tenant, routeLane: 'batch', requestId: 'req-1', webhooksConfigured: true, now, ...overrides };
}

/** The ApiError validateJob throws for `request`: its code, message and details. */
function refusal(request: JobRequest, overrides: Partial<SubmissionContext> = {}) {
  try {
    validateJob(request, context(overrides));
  } catch (err) {
    assert.ok(err instanceof ApiError, `an ApiError, not ${String(err)}`);
    return { code: err.code, status: err.statusCode, message: err.message, details: err.details };
  }
  assert.fail('the request was accepted');
}

test('a plain request becomes a queue entry with every default applied', () => {
  assert.deepEqual(validateJob({ code: 'print(1)' }, context()), {
    code: 'print(1)',
    stdin: '',
    limits: { time_ms: 2000, memory_mb: 256 },
    policy: 'strict',
    environment: 'python',
    tenant_id: 'acme',
    lane: 'batch',
    submitted_at: '2030-01-02T03:04:05.678Z',
    request_id: 'req-1',
  });
});

test('what a request asks for is kept, and a tenant with a running cap carries it into the job', () => {
  const data = validateJob(
    {
      code: 'print(1)',
      stdin: 'x',
      args: ['-v'],
      output_encoding: 'base64',
      figure_format: 'svg',
      limits: { time_ms: 3000, memory_mb: 128 },
      policy: 'standard',
      environment: 'python-data',
      lane: 'interactive',
      callback_url: 'https://example.test/hook',
    },
    context({ tenant: { ...tenant, maxRunning: 2 } }),
  );
  assert.deepEqual(data, {
    code: 'print(1)',
    stdin: 'x',
    args: ['-v'],
    output_encoding: 'base64',
    limits: { time_ms: 3000, memory_mb: 128 },
    policy: 'standard',
    environment: 'python-data',
    figure_format: 'svg',
    callback_url: 'https://example.test/hook',
    tenant_id: 'acme',
    lane: 'interactive',
    max_running: 2,
    submitted_at: '2030-01-02T03:04:05.678Z',
    request_id: 'req-1',
  });
});

test('the defaults that change nothing are left out: utf8 output, png figures', () => {
  const data = validateJob({ code: 'x', output_encoding: 'utf8', figure_format: 'png' }, context());
  assert.equal('output_encoding' in data, false);
  assert.equal('figure_format' in data, false);
});

test('tests take the job limits and args unless they name their own, and the comparator defaults', () => {
  const data = validateJob(
    {
      code: 'x',
      args: ['job'],
      limits: { time_ms: 3000 },
      tests: [
        { expected_output: 'a' },
        { stdin: 'in', args: ['own'], expected_output: 'b', limits: { memory_mb: 128 } },
      ],
    },
    context(),
  );
  assert.deepEqual(data.tests, [
    { stdin: '', args: ['job'], expected_output: 'a', limits: { time_ms: 3000, memory_mb: 256 } },
    { stdin: 'in', args: ['own'], expected_output: 'b', limits: { time_ms: 3000, memory_mb: 128 } },
  ]);
  assert.equal(data.comparator, 'trailing_whitespace');
  assert.equal(data.float_tolerance, 1e-6);
  assert.equal(data.stop_on_first_failure, false);
  const asked = validateJob(
    {
      code: 'x',
      tests: [{ expected_output: '1.0' }],
      comparator: 'float',
      float_tolerance: 0.01,
      stop_on_first_failure: true,
    },
    context(),
  );
  assert.equal(asked.comparator, 'float');
  assert.equal(asked.float_tolerance, 0.01);
  assert.equal(asked.stop_on_first_failure, true);
  assert.equal('args' in (asked.tests?.[0] ?? {}), false, 'no args anywhere: none on the test');
});

test('code over the maximum is a 413 code_too_large, counted in UTF-8 bytes', () => {
  assert.deepEqual(refusal({ code: 'é'.repeat(51) }), {
    code: 'code_too_large',
    status: 413,
    message: 'code is 102 bytes; the maximum is 100',
    details: { maximum: 100 },
  });
  assert.equal(validateJob({ code: 'é'.repeat(50) }, context()).code.length, 50, 'exactly at the maximum passes');
});

test('stdin, arguments and test data count together against the stdin maximum', () => {
  assert.deepEqual(
    refusal({
      code: 'x',
      stdin: 'a'.repeat(10),
      args: ['b'.repeat(10)],
      tests: [{ stdin: 'c'.repeat(10), args: ['d'.repeat(10)], expected_output: 'e'.repeat(11) }],
    }),
    {
      code: 'stdin_too_large',
      status: 413,
      message: 'stdin, arguments and test data are 51 bytes together; the maximum is 50',
      details: { maximum: 50 },
    },
  );
  assert.ok(validateJob({ code: 'x', stdin: 'a'.repeat(50) }, context()));
});

test("limits above the tenant's maxima are refused, and its defaults never exceed them", () => {
  assert.deepEqual(refusal({ code: 'x', limits: { time_ms: 6000 } }), {
    code: 'limit_exceeded',
    status: 400,
    message: 'limits.time_ms is 6000; the maximum is 5000',
    details: { field: 'limits.time_ms', maximum: 5000 },
  });
  assert.equal(
    refusal({ code: 'x', tests: [{ expected_output: '', limits: { memory_mb: 32 } }] }).code,
    'limit_exceeded',
  );
  const small = { ...tenant, maxTimeMs: 1000, maxMemoryMb: 128 };
  assert.deepEqual(validateJob({ code: 'x' }, context({ tenant: small })).limits, { time_ms: 1000, memory_mb: 128 });
  assert.deepEqual(tenantLimits(config, small), {
    maxTimeMs: 1000,
    maxMemoryMb: 128,
    minMemoryMb: 64,
    defaultTimeMs: 1000,
    defaultMemoryMb: 128,
  });
});

test('more tests than the maximum is validation_failed naming the field', () => {
  assert.deepEqual(refusal({ code: 'x', tests: Array.from({ length: 4 }, () => ({ expected_output: '' })) }), {
    code: 'validation_failed',
    status: 400,
    message: '4 tests; the maximum is 3',
    details: { field: 'tests', maximum: 3 },
  });
});

test('an interactive job carries the bounds of when it was queued; with tests it is refused', () => {
  const data = validateJob({ code: 'print(input())', stdin: 'first\n', interactive: true }, context());
  assert.deepEqual(data.interactive, { wall_ms: 60_000, idle_ms: 30_000 });
  assert.equal(data.stdin, 'first\n', "the body's stdin is its first input");
  assert.equal(validateJob({ code: 'x', interactive: false }, context()).interactive, undefined);
  assert.deepEqual(refusal({ code: 'x', interactive: true, tests: [{ expected_output: '' }] }), {
    code: 'validation_failed',
    status: 400,
    message: 'body.interactive is for a single run: a job with tests cannot have it',
    details: { field: 'interactive' },
  });
});

test('callback_url needs a signing secret, then an http(s) URL without credentials', () => {
  assert.deepEqual(refusal({ code: 'x', callback_url: 'https://example.test/' }, { webhooksConfigured: false }), {
    code: 'webhooks_not_configured',
    status: 400,
    message: 'this server has no webhook signing secret (SBX_WEBHOOK_SECRET)',
    details: undefined,
  });
  for (const url of ['not a url', 'ftp://example.test/', 'https://user:pw@example.test/', 'http://user@example.test/'])
    assert.deepEqual(refusal({ code: 'x', callback_url: url }), {
      code: 'validation_failed',
      status: 400,
      message: 'body.callback_url must be an http(s) URL without credentials',
      details: undefined,
    });
  assert.equal(
    validateJob({ code: 'x', callback_url: 'http://example.test/' }, context()).callback_url,
    'http://example.test/',
  );
});

test('a policy the server does not allow is refused; with strict not allowed the default is the first allowed', () => {
  const standardOnly = { ...config, allowedPolicies: ['standard' as const] };
  assert.deepEqual(refusal({ code: 'x', policy: 'strict' }, { config: standardOnly }), {
    code: 'policy_not_allowed',
    status: 400,
    message: 'policy "strict" is not allowed on this server; allowed: standard',
    details: { allowed: ['standard'] },
  });
  assert.equal(validateJob({ code: 'x' }, context({ config: standardOnly })).policy, 'standard');
  assert.equal(defaultPolicy(['standard', 'strict']), 'strict');
  assert.equal(defaultPolicy([]), 'strict');
});

test("an environment outside the server's list or the tenant's allow-list is environment_not_available", () => {
  const pythonOnly = { ...tenant, environments: ['python' as const] };
  assert.deepEqual(refusal({ code: 'x', environment: 'python-data' }, { tenant: pythonOnly }), {
    code: 'environment_not_available',
    status: 400,
    message: 'environment "python-data" is not available to this caller; available: python',
    details: { environment: 'python-data', available: ['python'] },
  });
  const dataServer = { ...config, environments: ['python-data' as const] };
  assert.equal(validateJob({ code: 'x' }, context({ config: dataServer })).environment, 'python-data');
  assert.deepEqual(refusal({ code: 'x' }, { config: dataServer, tenant: pythonOnly }), {
    code: 'environment_not_available',
    status: 400,
    message: 'environment "python-data" is not available to this caller; available: none',
    details: { environment: 'python-data', available: [] },
  });
});

test("a lane the tenant may not use is lane_not_allowed; with none asked, the route's or the tenant's own", () => {
  const batchOnly = { ...tenant, lanes: ['batch' as const] };
  assert.deepEqual(refusal({ code: 'x', lane: 'interactive' }, { tenant: batchOnly }), {
    code: 'lane_not_allowed',
    status: 400,
    message: 'lane "interactive" is not available to this caller; available: batch',
    details: { lane: 'interactive', available: ['batch'] },
  });
  assert.equal(validateJob({ code: 'x' }, context({ routeLane: 'interactive' })).lane, 'interactive');
  assert.equal(validateJob({ code: 'x' }, context({ routeLane: 'interactive', tenant: batchOnly })).lane, 'batch');
});

test('checks run in a fixed order: the first that fails is the one reported', () => {
  const everythingWrong: JobRequest = {
    code: 'x'.repeat(101),
    stdin: 'x'.repeat(51),
    limits: { time_ms: 60_000 },
    tests: Array.from({ length: 4 }, () => ({ expected_output: '' })),
    callback_url: 'ftp://x',
    policy: 'standard',
    environment: 'python-data',
    lane: 'interactive',
  };
  const narrow: Partial<SubmissionContext> = {
    config: { ...config, allowedPolicies: ['strict'], environments: ['python'] },
    tenant: { ...tenant, lanes: ['batch'] },
  };
  const order = [
    'code_too_large',
    'stdin_too_large',
    'limit_exceeded',
    'validation_failed',
    'validation_failed',
    'policy_not_allowed',
    'environment_not_available',
    'lane_not_allowed',
  ];
  // Fix each in turn: the next check in line is then the one that fails.
  const fixes: ((r: JobRequest) => JobRequest)[] = [
    (r) => ({ ...r, code: 'x' }),
    ({ stdin, ...r }) => r,
    ({ limits, ...r }) => r,
    ({ tests, ...r }) => r,
    ({ callback_url, ...r }) => r,
    ({ policy, ...r }) => r,
    ({ environment, ...r }) => r,
    ({ lane, ...r }) => r,
  ];
  let request = everythingWrong;
  for (const [i, code] of order.entries()) {
    assert.equal(refusal(request, narrow).code, code, `step ${i}`);
    request = (fixes[i] as (r: JobRequest) => JobRequest)(request);
  }
  assert.ok(validateJob(request, context(narrow)));
});

test("a batch's refusal names the job by its index, keeping the code and details", () => {
  const err = inBatch(new ApiError('limit_exceeded', 'limits.time_ms is 9; the maximum is 1', { maximum: 1 }), 3);
  assert.ok(err instanceof ApiError);
  assert.equal(err.code, 'limit_exceeded');
  assert.equal(err.statusCode, 400);
  assert.equal(err.message, 'jobs[3]: limits.time_ms is 9; the maximum is 1');
  assert.deepEqual(err.details, { index: 3, maximum: 1 });
  const withoutDetails = inBatch(new ApiError('webhooks_not_configured', 'no secret'), 0) as ApiError;
  assert.deepEqual(withoutDetails.details, { index: 0 });
  const other = new TypeError('boom');
  assert.equal(inBatch(other, 1), other, 'anything else passes through as it was');
});

test('files: decoded from their encoding into base64 on the job, counted with stdin, names checked', () => {
  const data = validateJob(
    {
      code: 'import helper',
      files: [
        { name: 'helper.py', content: 'X = 1' },
        { name: 'b.bin', content: 'AAH/', encoding: 'base64' },
        { name: 'h.txt', content: '6869', encoding: 'hex' },
      ],
    },
    context(),
  );
  assert.deepEqual(data.files, [
    { name: 'helper.py', data: Buffer.from('X = 1').toString('base64') },
    { name: 'b.bin', data: 'AAH/' },
    { name: 'h.txt', data: Buffer.from('hi').toString('base64') },
  ]);
  assert.equal(validateJob({ code: 'x', files: [] }, context()).files, undefined);
  // 40 bytes of stdin and 11 decoded bytes of a file (22 hex characters) are 51.
  assert.deepEqual(
    refusal({ code: 'x', stdin: 'a'.repeat(40), files: [{ name: 'f', content: 'ab'.repeat(11), encoding: 'hex' }] }),
    {
      code: 'stdin_too_large',
      status: 413,
      message: 'stdin, arguments, files and test data are 51 bytes together; the maximum is 50',
      details: { maximum: 50 },
    },
  );
  for (const name of ['../x', 'a/b', '.hidden', 'outputs', ''])
    assert.equal(refusal({ code: 'x', files: [{ name, content: '' }] }).code, 'validation_failed', name);
  assert.match(
    refusal({
      code: 'x',
      files: [
        { name: 'a', content: '' },
        { name: 'a', content: '' },
      ],
    }).message,
    /"a" is given twice/,
  );
});
