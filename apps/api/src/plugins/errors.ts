import {
  API_ERRORS,
  ApiError,
  type ApiErrorCode,
  type ErrorBody,
  isRedisOomError,
  storageFullError,
} from '@sbx/shared';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { drainBody, drainLimitFor } from '../http/drain.js';
import { RouteMethods } from '../http/route-methods.js';

/** The router's limit on one path parameter (app.ts sets it): longer is refused before any route runs. */
export const MAX_PARAM_CHARS = 100;

/**
 * Errors other plugins throw with only a status (the docs' static files, say), and the code each status
 * travels with. A 403 is a 404 here, as for another tenant's job: nobody learns what they may not read.
 * Any other 4xx is a 400 bad_request, so `statusCode` always matches the code.
 */
const CODE_FOR_STATUS: Partial<Record<number, ApiErrorCode>> = {
  401: 'unauthorized',
  403: 'not_found',
  404: 'not_found',
  405: 'method_not_allowed',
  408: 'request_timeout',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  417: 'expectation_failed',
  429: 'rate_limited',
  431: 'headers_too_large',
};

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
  if (isRedisOomError(err)) return toErrorBody(storageFullError());
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
    return errorBody('validation_failed', describeValidation(fe.validation, context));
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return errorBody('invalid_json', 'the request body is empty; send a JSON object');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return errorBody('invalid_json', `the request body is not valid JSON: ${fe.message}`);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return errorBody('payload_too_large', 'the request body is larger than this server accepts');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return errorBody('unsupported_media_type', 'send the body as application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return errorBody('bad_request', 'the request body does not match its Content-Length');
    case 'FST_ERR_BAD_URL':
      return errorBody('bad_request', 'the URL path is not valid: a %-escape is malformed or does not decode to UTF-8');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return errorBody('validation_failed', `a path parameter is longer than ${MAX_PARAM_CHARS} characters`);
  }
  if (err instanceof SyntaxError && fe.statusCode === 400)
    return errorBody('invalid_json', `the request body is not valid JSON: ${err.message}`);
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500)
    return errorBody(CODE_FOR_STATUS[fe.statusCode] ?? 'bad_request', fe.message || 'the request was refused');
  return errorBody('internal', 'internal error; it has been logged');
}

/** An error answer with the status its code always travels with. */
export function errorBody(code: ApiErrorCode, message: string): ErrorBody {
  return { statusCode: API_ERRORS[code], code, message };
}

/**
 * Fastify's `frameworkErrors`: the router's refusals (bad %-encoding, an over-long parameter) come here
 * instead of to the error handler, and would otherwise carry Fastify's own body and codes. Fastify makes
 * these replies outside any route, so no hook runs for them: what our hooks add to every other answer
 * (the request id, the error count) is added here.
 */
export function frameworkErrors(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const payload = toErrorBody(err);
  reply.server.metrics.errors.inc({ code: payload.code });
  reply.header('x-request-id', req.id).status(payload.statusCode).send(payload);
}

export default fp(
  async (app: FastifyInstance) => {
    const drainLimit = drainLimitFor(app.initialConfig.bodyLimit ?? 1024 * 1024);
    app.setErrorHandler(async (thrown: FastifyError, req, reply) => {
      // Any write Redis refused for memory, on whichever route, is the one documented refusal.
      const err = isRedisOomError(thrown) ? storageFullError() : thrown;
      const payload = toErrorBody(err);
      // A full Redis refuses every request that writes: sbx_api_errors_total and the memory alerts say
      // so once, where a log line per refusal would only flood the log.
      if (payload.statusCode >= 500 && payload.code !== 'storage_full') req.log.error({ err }, 'request failed');
      if (payload.code === 'unauthorized') reply.header('www-authenticate', 'Bearer');
      if (err instanceof ApiError && err.retryAfterSeconds !== undefined)
        reply.header('retry-after', String(err.retryAfterSeconds));
      // A body refused for its size is still on its way: answering now and closing would reset a client
      // that reads only once it has sent everything, and it would see "unreachable" instead of this 413.
      if (payload.statusCode === 413) await drainBody(req.raw, drainLimit);
      return reply.status(payload.statusCode).send(payload);
    });

    const routes = new RouteMethods();
    app.addHook('onRoute', (route) => routes.add(route.url, route.method));
    app.setNotFoundHandler((req, reply) => {
      const path = req.url.split('?')[0] ?? '';
      const allowed = routes.allowed(path);
      if (allowed.length > 0 && !allowed.includes(req.method))
        return reply
          .status(405)
          .header('allow', allowed.join(', '))
          .send(errorBody('method_not_allowed', `${path} takes ${allowed.join(', ')}, not ${req.method}`));
      return reply.status(404).send(errorBody('not_found', `no route ${req.method} ${path}`));
    });
  },
  { name: 'errors' },
);
