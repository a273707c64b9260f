import { ApiError } from '@sbx/shared';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { toErrorBody } from '../../plugins/errors.js';

/** Judge0 (Rails) takes every path with or without a trailing slash. */
export function route(
  app: FastifyInstance,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  handler: RouteHandlerMethod,
): void {
  // Out of our OpenAPI document, whose shapes they do not share: docs/compat.md describes them.
  for (const url of [path, `${path}/`]) app.route({ method, url, handler, schema: { hide: true } });
}

/** Rails merges the query string and the body into one set of parameters; the body wins. */
export function paramsOf(req: FastifyRequest): Record<string, unknown> {
  const query = (req.query ?? {}) as Record<string, unknown>;
  const body = req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? req.body : {};
  return { ...query, ...(body as Record<string, unknown>) };
}

/** Rails' answer for a record it cannot find. */
export const NOT_FOUND = { status: 404, error: 'Not Found' };

/**
 * Errors on Judge0's routes in Judge0's shapes: 401 with an empty body, `{"error": ...}` otherwise,
 * "queue is full" for a full queue. Our own code still counts in the metrics (plugins/metrics.ts
 * reads it from the x-sbx-error header here, as the body no longer carries it).
 */
export async function judge0ErrorHandler(thrown: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  const ours = toErrorBody(thrown);
  if (ours.statusCode >= 500 && ours.code !== 'storage_full' && ours.code !== 'queue_full')
    req.log.error({ err: thrown }, 'request failed');
  reply.header('x-sbx-error', ours.code);
  if (thrown instanceof ApiError && thrown.retryAfterSeconds !== undefined)
    reply.header('retry-after', String(thrown.retryAfterSeconds));
  if (ours.code === 'unauthorized') return reply.status(401).send('');
  if (ours.code === 'queue_full') return reply.status(503).send({ error: 'queue is full' });
  if (ours.code === 'not_found') return reply.status(404).send(NOT_FOUND);
  return reply.status(ours.statusCode).send({ error: ours.message });
}

/** Any origin, as Judge0's default Rack::Cors; its answers hold no cookie and keys travel in a header. */
export function allowAnyOrigin(app: FastifyInstance, paths: string[]): void {
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('access-control-allow-origin', '*');
    reply.header('access-control-expose-headers', 'x-sbx-status, retry-after, x-request-id');
    return payload;
  });
  for (const path of paths)
    for (const url of [path, `${path}/`])
      app.options(url, { schema: { hide: true } }, async (_req, reply) =>
        reply
          .status(204)
          .header('access-control-allow-methods', 'GET, POST, PUT, DELETE, OPTIONS')
          .header('access-control-allow-headers', 'content-type, x-auth-token, x-auth-user, authorization')
          .header('access-control-max-age', '600')
          .send(),
      );
}

/**
 * Rails also reads form bodies (curl -d, HTML forms): on Judge0's routes only, a form body becomes
 * the same parameters a JSON one would.
 */
export function acceptFormBodies(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
}
