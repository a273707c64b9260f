import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError, ConfigError, loadConfig, resolveLimits } from '@sbx/shared';

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
