import { API_ERRORS, ApiError, type ApiErrorCode, type ErrorBody } from '@sbx/shared';
import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

interface ValidationIssue {
  instancePath?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** Turns Ajv's findings into one sentence a person can act on, naming each field. */
export function describeValidation(issues: ValidationIssue[], context = 'body'): string {
  return issues
    .map((issue) => {
      const path = `${context}${(issue.instancePath ?? '').replaceAll('/', '.')}`;
      const extra = issue.params?.additionalProperty;
      if (typeof extra === 'string') return `${path}: unknown field "${extra}"`;
      const missing = issue.params?.missingProperty;
      if (typeof missing === 'string') return `${path}: missing required field "${missing}"`;
      return `${path} ${issue.message ?? 'is invalid'}`;
    })
    .join('; ');
}

/** Maps any error to a stable `{ statusCode, code, message }`. A client error is never a 500; a 500 never leaks internals. */
export function toErrorBody(err: FastifyError | ApiError | Error): ErrorBody {
  if (err instanceof ApiError)
    return {
      statusCode: err.statusCode,
      code: err.code,
      message: err.message,
      ...(err.details !== undefined ? { details: err.details } : {}),
    };
  const fe = err as FastifyError & { validation?: ValidationIssue[]; validationContext?: string };
  if (fe.validation) {
    const context = fe.validationContext ?? 'body';
    return body('validation_failed', describeValidation(fe.validation, context));
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return body('invalid_json', 'the request body is empty; send a JSON object');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return body('invalid_json', `the request body is not valid JSON: ${fe.message}`);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return body('payload_too_large', 'the request body is larger than this server accepts');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return body('unsupported_media_type', 'send the body as application/json');
  }
  if (err instanceof SyntaxError && fe.statusCode === 400)
    return body('invalid_json', `the request body is not valid JSON: ${err.message}`);
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500)
    return { statusCode: fe.statusCode, code: 'bad_request', message: fe.message };
  return body('internal', 'internal error; it has been logged');
}

function body(code: ApiErrorCode, message: string): ErrorBody {
  return { statusCode: API_ERRORS[code], code, message };
}

export default fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler((err: FastifyError, req, reply) => {
      const payload = toErrorBody(err);
      if (payload.statusCode >= 500) req.log.error({ err }, 'request failed');
      if (payload.code === 'unauthorized') reply.header('www-authenticate', 'Bearer');
      return reply.status(payload.statusCode).send(payload);
    });
    app.setNotFoundHandler((req, reply) =>
      reply.status(404).send(body('not_found', `no route ${req.method} ${req.url.split('?')[0]}`)),
    );
  },
  { name: 'errors' },
);
