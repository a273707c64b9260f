import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeValidation, toErrorBody } from '@sbx/api/errors';
import { socketErrorBody } from '@sbx/api/http/client-errors';
import { API_ERRORS, ApiError, type ApiErrorCode } from '@sbx/shared';
import { errorCodes } from 'fastify';

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

test("Fastify's own refusals get stable codes, each with the status that code travels with", () => {
  const cases: [Error, string][] = [
    [new errorCodes.FST_ERR_BAD_URL('/jobs/%ZZ'), 'bad_request'],
    [new errorCodes.FST_ERR_MAX_PARAM_LENGTH('/jobs/aaaa'), 'validation_failed'],
    [new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH(), 'bad_request'],
    [new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE(), 'payload_too_large'],
    [new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY(), 'invalid_json'],
    [new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY(), 'invalid_json'],
    [new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(), 'unsupported_media_type'],
  ];
  for (const [err, code] of cases) {
    const body = toErrorBody(err);
    assert.equal(body.code, code, String(err));
    assert.equal(body.statusCode, API_ERRORS[code as ApiErrorCode], String(err));
    assert.doesNotMatch(body.message, /FST_/);
  }
});

test('an error that has only a status keeps a code whose status is the one sent', () => {
  const withStatus = (statusCode: number, message = 'x') => Object.assign(new Error(message), { statusCode });
  assert.deepEqual(toErrorBody(withStatus(416, 'Range Not Satisfiable')), {
    statusCode: 400,
    code: 'bad_request',
    message: 'Range Not Satisfiable',
  });
  assert.equal(toErrorBody(withStatus(403)).code, 'not_found', 'a forbidden path is as absent as a missing one');
  assert.equal(toErrorBody(withStatus(405)).code, 'method_not_allowed');
  assert.equal(toErrorBody(withStatus(503)).code, 'internal');
  for (const status of [400, 401, 403, 404, 405, 408, 409, 411, 413, 415, 416, 417, 429, 431]) {
    const body = toErrorBody(withStatus(status, ''));
    assert.equal(body.statusCode, API_ERRORS[body.code], `status ${status}`);
    assert.ok(body.message.length > 0);
  }
});

test("Node's parser errors are answered in the same shape", () => {
  assert.equal(socketErrorBody('HPE_HEADER_OVERFLOW').code, 'headers_too_large');
  assert.equal(socketErrorBody('HPE_HEADER_OVERFLOW').statusCode, 431);
  assert.equal(socketErrorBody('ERR_HTTP_REQUEST_TIMEOUT').statusCode, 408);
  assert.equal(socketErrorBody('HPE_CHUNK_EXTENSIONS_OVERFLOW').code, 'payload_too_large');
  assert.deepEqual(socketErrorBody('HPE_INVALID_METHOD'), {
    statusCode: 400,
    code: 'bad_request',
    message: 'the request is not well-formed HTTP/1.1',
  });
});
