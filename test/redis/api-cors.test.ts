import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Stack, startStack } from '../support/stack.js';

const ORIGIN = 'https://grader.example';
const KEY = 'cors-test-key';

describe('CORS (SBX_CORS_ORIGINS)', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ worker: false, env: { SBX_CORS_ORIGINS: ORIGIN, SBX_API_KEYS: KEY } });
  });
  after(async () => {
    await stack.stop();
  });

  test('a preflight from an allowed origin is answered without a key', async () => {
    const res = await stack.app.inject({
      method: 'OPTIONS',
      url: '/run',
      headers: {
        origin: ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, idempotency-key',
      },
    });
    assert.equal(res.statusCode, 204, res.body);
    assert.equal(res.headers['access-control-allow-origin'], ORIGIN);
    assert.match(String(res.headers['access-control-allow-headers']), /idempotency-key/);
  });

  test('answers carry the origin and expose the headers clients read; other origins get nothing', async () => {
    const res = await stack.app.inject({
      method: 'POST',
      url: '/jobs',
      headers: { origin: ORIGIN, authorization: `Bearer ${KEY}` },
      payload: { code: 'print(1)' },
    });
    assert.equal(res.statusCode, 202);
    assert.equal(res.headers['access-control-allow-origin'], ORIGIN);
    assert.match(String(res.headers['access-control-expose-headers']), /location/);
    const refused = await stack.app.inject({
      method: 'GET',
      url: '/info',
      headers: { origin: 'https://evil.example' },
    });
    assert.equal(refused.headers['access-control-allow-origin'], undefined);
    assert.equal(refused.statusCode, 401, 'CORS never stands in for a key');
  });
});

describe('CORS off (the default)', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ worker: false });
  });
  after(async () => {
    await stack.stop();
  });

  test('no CORS headers without SBX_CORS_ORIGINS', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/info', headers: { origin: ORIGIN } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  });
});
