import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig, redisConnectionOptions } from '@sbx/shared';

test('without Sentinels: the URL, with its credentials, db and TLS, and the call site options on top', () => {
  const config = loadConfig({ SBX_REDIS_URL: 'rediss://us%40r:p%3Ass@redis.internal:6380/3' });
  assert.deepEqual(redisConnectionOptions(config, { enableOfflineQueue: false, maxRetriesPerRequest: 1 }), {
    host: 'redis.internal',
    port: 6380,
    username: 'us@r',
    password: 'p:ss',
    db: 3,
    tls: {},
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  });
  assert.deepEqual(redisConnectionOptions(loadConfig({})), { host: '127.0.0.1', port: 6379 });
  assert.deepEqual(redisConnectionOptions(loadConfig({ SBX_REDIS_URL: 'redis://[::1]:7000' })), {
    host: '::1',
    port: 7000,
  });
});

test('with Sentinels: their addresses and the master name; the URL gives only password and db', () => {
  const config = loadConfig({
    SBX_REDIS_URL: 'redis://:secret@ignored.example:1234/2',
    SBX_REDIS_SENTINELS: ' 10.0.0.1:26379, sentinel-b:26380 ,[fd00::3]:26381',
    SBX_REDIS_SENTINEL_NAME: 'queue',
    SBX_REDIS_SENTINEL_PASSWORD: 'watch',
  });
  const { reconnectOnError, ...options } = redisConnectionOptions(config, { maxRetriesPerRequest: null });
  assert.equal(typeof reconnectOnError === 'function' && reconnectOnError(new Error("READONLY You can't write")), true);
  assert.equal(typeof reconnectOnError === 'function' && reconnectOnError(new Error('ERR other')), false);
  assert.deepEqual(options, {
    password: 'secret',
    db: 2,
    sentinels: [
      { host: '10.0.0.1', port: 26_379 },
      { host: 'sentinel-b', port: 26_380 },
      { host: 'fd00::3', port: 26_381 },
    ],
    name: 'queue',
    sentinelPassword: 'watch',
    maxRetriesPerRequest: null,
  });
  // The primary's address must come from the Sentinels alone, never from the URL.
  assert.ok(!('host' in options) && !('port' in options));
});

test('Sentinel defaults: master name sbx, no Sentinel password; TLS carries over to the Sentinels', () => {
  const options = redisConnectionOptions(
    loadConfig({ SBX_REDIS_URL: 'rediss://h', SBX_REDIS_SENTINELS: '127.0.0.1:26379' }),
  );
  assert.equal(options.name, 'sbx');
  assert.equal(options.sentinelPassword, undefined);
  assert.deepEqual(options.tls, {});
  assert.equal(options.enableTLSForSentinelMode, true);
});

test('bad Sentinel lists and URLs are named', () => {
  for (const bad of ['127.0.0.1', 'host:0', 'host:70000', 'a b:1', '::1:26379'])
    assert.throws(() => loadConfig({ SBX_REDIS_SENTINELS: bad }), ConfigError, bad);
  assert.throws(() => redisConnectionOptions(loadConfig({ SBX_REDIS_URL: 'http://h:1' })), /redis:\/\//);
  assert.throws(() => redisConnectionOptions(loadConfig({ SBX_REDIS_URL: 'redis://h/x' })), /db number/);
});

test('WAIT is off by default and its knobs are whole numbers', () => {
  const c = loadConfig({});
  assert.equal(c.redisWaitReplicas, 0);
  assert.equal(c.redisWaitTimeoutMs, 500);
  assert.equal(loadConfig({ SBX_REDIS_WAIT_REPLICAS: '1' }).redisWaitReplicas, 1);
  assert.throws(() => loadConfig({ SBX_REDIS_WAIT_TIMEOUT_MS: '0' }), /at least 1/);
});
