import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ApiError,
  ConfigError,
  ENV_VARS,
  ENVIRONMENT_SPECS,
  ENVIRONMENTS,
  type Environment,
  environmentVarName,
  loadApiConfig,
  loadConfig,
  loadWorkerConfig,
  resolveLimits,
} from '@sbx/shared';
import { poolBounds } from '@sbx/worker';

test('defaults: 2000 ms, 128 MB, 64 KiB code, 1 MiB output, loopback without keys', () => {
  const c = loadConfig({});
  assert.equal(c.defaultTimeMs, 2000);
  assert.equal(c.defaultMemoryMb, 128);
  assert.equal(c.maxCodeBytes, 65_536);
  assert.equal(c.maxOutputBytes, 1_048_576);
  assert.equal(c.apiHost, '127.0.0.1');
  assert.equal(c.runtime, 'runsc');
  assert.deepEqual(c.apiKeys, []);
});

test('keys: parsed from a comma list; then all interfaces by default', () => {
  const c = loadConfig({ SBX_API_KEYS: ' a, ,b ' });
  assert.deepEqual(c.apiKeys, ['a', 'b']);
  assert.equal(c.apiHost, '0.0.0.0');
});

test('a tenants file counts as keys: all interfaces by default, any address allowed', () => {
  assert.equal(loadConfig({ SBX_TENANTS_FILE: '/etc/sbx/tenants.json' }).apiHost, '0.0.0.0');
  assert.equal(
    loadConfig({ SBX_TENANTS_FILE: '/etc/sbx/tenants.json', SBX_API_HOST: '198.18.0.10' }).apiHost,
    '198.18.0.10',
  );
});

test('an exposed address without keys is refused', () => {
  assert.throws(() => loadConfig({ SBX_API_HOST: '0.0.0.0' }), ConfigError);
  assert.equal(loadConfig({ SBX_API_HOST: '127.0.0.2' }).apiHost, '127.0.0.2');
});

test('bad numbers and inconsistent limits are named', () => {
  assert.throws(() => loadConfig({ SBX_MAX_TIME_MS: '2s' }), /SBX_MAX_TIME_MS must be a whole number/);
  assert.throws(() => loadConfig({ SBX_DEFAULT_TIME_MS: '5000' }), /must not exceed SBX_MAX_TIME_MS/);
  assert.throws(() => loadConfig({ SBX_PIDS_LIMIT: '32' }), /at least 128/);
});

test('limits: defaults fill in, callers may lower, above the maximum is an error naming it', () => {
  const c = loadConfig({});
  assert.deepEqual(resolveLimits(undefined, c), { time_ms: 2000, memory_mb: 128 });
  assert.deepEqual(resolveLimits({ time_ms: 100 }, c), { time_ms: 100, memory_mb: 128 });
  assert.throws(
    () => resolveLimits({ memory_mb: 129 }, c),
    (e: unknown) => e instanceof ApiError && e.code === 'limit_exceeded' && /maximum is 128/.test(e.message),
  );
  assert.throws(() => resolveLimits({ memory_mb: 8 }, c), /minimum is 64/);
});

/** Every variable of one slice set to something no parser takes. */
const garbled = (readBy: 'api' | 'worker') =>
  Object.fromEntries(ENV_VARS.filter((v) => v.readBy === readBy).map((v) => [v.name, 'not a value']));

test("a worker starts whatever the API's own variables hold, and reads none of them", () => {
  assert.throws(() => loadApiConfig(garbled('api')), ConfigError);
  assert.throws(() => loadApiConfig({ SBX_API_HOST: '0.0.0.0' }), /would expose an API/);
  const worker = loadWorkerConfig({ ...garbled('api'), SBX_MIN_MEMORY_MB: '4096' });
  assert.equal(worker.concurrency, 2);
  for (const key of ['apiHost', 'apiPort', 'maxCodeBytes', 'minMemoryMb', 'corsOrigins'])
    assert.ok(!(key in worker), key);
});

test("an API starts whatever the worker's own variables hold, and reads none of them", () => {
  assert.throws(() => loadWorkerConfig(garbled('worker')), ConfigError);
  const api = loadApiConfig({ ...garbled('worker'), SBX_POOL_MIN: '99', SBX_POOL_MAX: '1' });
  assert.equal(api.apiPort, 3000);
  for (const key of ['workerId', 'concurrency', 'poolMax', 'sandboxes', 'runtime']) assert.ok(!(key in api), key);
});

test('the variables: each named once, in one slice; the shared ones are checked in both apps', () => {
  const names = ENV_VARS.map((v) => v.name);
  assert.equal(new Set(names).size, names.length);
  assert.throws(() => loadApiConfig({ SBX_DEFAULT_TIME_MS: '5000' }), /must not exceed SBX_MAX_TIME_MS/);
  assert.throws(() => loadWorkerConfig({ SBX_DEFAULT_TIME_MS: '5000' }), /must not exceed SBX_MAX_TIME_MS/);
  assert.throws(() => loadWorkerConfig({ SBX_REDIS_WAIT_REPLICAS: 'x' }), /SBX_REDIS_WAIT_REPLICAS/);
});

test('each environment: its image, pool floor, pool memory budget and checkpoint switch, named by one rule and defaulted from ENVIRONMENT_SPECS', () => {
  const names = (env: Environment) => [
    environmentVarName('SBX_SANDBOX_IMAGE', env),
    environmentVarName('SBX_POOL_MIN', env),
    environmentVarName('SBX_POOL_MEMORY_MB', env),
    environmentVarName('SBX_CHECKPOINT', env),
  ];
  assert.deepEqual(names('python'), ['SBX_SANDBOX_IMAGE', 'SBX_POOL_MIN', 'SBX_POOL_MEMORY_MB', 'SBX_CHECKPOINT']);
  assert.deepEqual(names('python-data'), [
    'SBX_SANDBOX_IMAGE_PYTHON_DATA',
    'SBX_POOL_MIN_PYTHON_DATA',
    'SBX_POOL_MEMORY_MB_PYTHON_DATA',
    'SBX_CHECKPOINT_PYTHON_DATA',
  ]);
  const defaults = loadWorkerConfig({}).sandboxes;
  for (const env of ENVIRONMENTS) {
    const { image, poolMin, poolMemoryMb, checkpoint } = ENVIRONMENT_SPECS[env];
    assert.deepEqual(defaults[env], { image, poolMin, poolMemoryMb, checkpoint });
    for (const name of names(env)) assert.equal(ENV_VARS.find((v) => v.name === name)?.readBy, 'worker', name);
  }
  assert.deepEqual(defaults.python, { image: 'sbx-python:latest', poolMin: 2, poolMemoryMb: 1024, checkpoint: false });
  assert.deepEqual(defaults['python-data'], {
    image: 'sbx-python-data:latest',
    poolMin: 1,
    poolMemoryMb: 1536,
    checkpoint: true,
  });
  const set = loadWorkerConfig({
    SBX_SANDBOX_IMAGE_PYTHON_DATA: 'data:1',
    SBX_POOL_MIN_PYTHON_DATA: '3',
    SBX_POOL_MEMORY_MB_PYTHON_DATA: '600',
    SBX_CHECKPOINT_PYTHON_DATA: 'off',
  }).sandboxes;
  assert.deepEqual(set['python-data'], { image: 'data:1', poolMin: 3, poolMemoryMb: 600, checkpoint: false });
  assert.deepEqual(set.python, defaults.python);
  assert.equal(loadWorkerConfig({ SBX_CHECKPOINT: 'on' }).sandboxes.python.checkpoint, true);
  assert.throws(
    () => loadWorkerConfig({ SBX_CHECKPOINT_PYTHON_DATA: 'yes' }),
    /SBX_CHECKPOINT_PYTHON_DATA must be on or off/,
  );
  assert.throws(
    () => loadWorkerConfig({ SBX_POOL_MIN: '5', SBX_POOL_MAX: '4' }),
    /SBX_POOL_MIN must not exceed SBX_POOL_MAX/,
  );
});

test("a warm pool's ceiling: SBX_POOL_MAX, or what its memory budget holds at an idle sandbox's size; the floor below it", () => {
  const bounds = (env: Record<string, string>, environment: Environment) =>
    poolBounds(loadWorkerConfig(env), environment);
  assert.deepEqual(bounds({}, 'python'), { min: 2, max: 32 }, '1024 MB holds 34 plain ones: SBX_POOL_MAX binds');
  assert.deepEqual(bounds({}, 'python-data'), { min: 1, max: 10 }, '1536 MB at 150 MB each');
  assert.deepEqual(bounds({ SBX_POOL_MEMORY_MB_PYTHON_DATA: '449' }, 'python-data'), { min: 1, max: 2 });
  assert.deepEqual(bounds({ SBX_POOL_MEMORY_MB_PYTHON_DATA: '100', SBX_POOL_MIN_PYTHON_DATA: '3' }, 'python-data'), {
    min: 0,
    max: 0,
  });
  assert.deepEqual(bounds({ SBX_POOL_MEMORY_MB: '300', SBX_POOL_MIN: '20', SBX_POOL_MAX: '40' }, 'python'), {
    min: 10,
    max: 10,
  });
  assert.deepEqual(bounds({ SBX_POOL_MAX: '4' }, 'python-data'), { min: 1, max: 4 });
  assert.deepEqual(bounds({ SBX_POOL_MAX: '0', SBX_POOL_MIN: '0' }, 'python'), { min: 0, max: 0 });
});
