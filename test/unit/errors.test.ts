import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeValidation, toErrorBody } from '@sbx/api/errors';
import { ApiError } from '@sbx/shared';

test('validation issues become one sentence naming each field', () => {
  const msg = describeValidation([
    { instancePath: '/limits', message: 'x', params: { additionalProperty: 'cpu' } },
    { instancePath: '', params: { missingProperty: 'code' } },
    { instancePath: '/limits/time_ms', message: 'must be integer' },
  ]);
  assert.equal(
    msg,
    'body.limits: unknown field "cpu"; body: missing required field "code"; body.limits.time_ms must be integer',
  );
});

test('an internal error never leaks its message', () => {
  const body = toErrorBody(new Error('ECONNREFUSED 10.0.0.7:6379 password=hunter2'));
  assert.deepEqual(body, { statusCode: 500, code: 'internal', message: 'internal error; it has been logged' });
});

test('ApiError keeps its code, status and details', () => {
  const body = toErrorBody(new ApiError('code_too_large', 'too big', { maximum: 1 }));
  assert.deepEqual(body, { statusCode: 413, code: 'code_too_large', message: 'too big', details: { maximum: 1 } });
});
