import fastifyWebsocket from '@fastify/websocket';
import { type ApiConfig, ApiError } from '@sbx/shared';
import type { FastifyError, FastifyInstance } from 'fastify';
import { drainBody, drainLimitFor } from '../../http/drain.js';
import { toErrorBody } from '../../plugins/errors.js';
import { strictJsonParser } from '../../plugins/json-body.js';
import type { JobEvents } from '../../services/job-events.js';
import type { JobInput } from '../../services/job-input.js';
import type { JobService } from '../../services/jobs.js';
import { PistonExecutor } from './executor.js';
import { PistonError } from './request.js';
import { pistonRoutes } from './routes.js';

/** Where Piston clients find the API: its own path, and the public service's. */
export const PISTON_PREFIXES = ['/api/v2', '/api/v2/piston'] as const;

const JSON_ONLY = 'requests must be of type application/json';

/** Any error as Piston answers it: `{message}`, with the status our own error would have. */
function pistonFailure(err: FastifyError | Error): { statusCode: number; message: string; code: string | null } {
  if (err instanceof PistonError) return { statusCode: err.statusCode, message: err.message, code: null };
  const body = toErrorBody(err);
  return {
    statusCode: body.statusCode,
    message: body.statusCode === 415 ? JSON_ONLY : body.message,
    code: body.code,
  };
}

/**
 * Piston v2's API (SBX_PISTON_API), encapsulated: its content-type rules and error shape stay on its
 * routes. JSON sent as text/plain is taken here only (piston-client sends it that way); anything else
 * but application/json is Piston's 415. Auth, rate limits and admission are the app's own, as on
 * POST /run.
 */
export async function pistonApi(
  app: FastifyInstance,
  { jobs, events, input, config }: { jobs: JobService; events: JobEvents; input: JobInput; config: ApiConfig },
): Promise<void> {
  const piston = new PistonExecutor({ jobs, events, config, queueEvents: app.queueEvents, waitMs: config.runWaitMs });
  const drainLimit = drainLimitFor(app.initialConfig.bodyLimit ?? 1024 * 1024);
  app.addContentTypeParser('text/plain', { parseAs: 'buffer' }, strictJsonParser(app));
  app.addHook('preValidation', async (req) => {
    if (req.method !== 'POST') return;
    const type = req.headers['content-type'] ?? '';
    if (!type.startsWith('application/json') && !type.startsWith('text/plain')) throw new PistonError(415, JSON_ONLY);
  });
  app.setErrorHandler(async (err: FastifyError, req, reply) => {
    const failure = pistonFailure(err);
    if (failure.statusCode >= 500) req.log.error({ err }, 'piston request failed');
    // Counted as our own error bodies are (metrics.ts reads `code` from those; these have none).
    reply.server.metrics.errors.inc({ code: failure.code ?? (failure.statusCode >= 500 ? 'internal' : 'bad_request') });
    if (err instanceof ApiError && err.retryAfterSeconds !== undefined)
      reply.header('retry-after', String(err.retryAfterSeconds));
    if (failure.statusCode === 413) await drainBody(req.raw, drainLimit);
    return reply.status(failure.statusCode).send({ message: failure.message });
  });
  // A refused upgrade (a 401 from auth, a 429) is answered on the raw socket: end it, or the client's
  // socket stays open (the websocket plugin only ends those it marked, after its own hook ran).
  app.addHook('onResponse', async (req, reply) => {
    if (req.headers.upgrade?.toLowerCase() === 'websocket') reply.raw.socket?.end();
    app.metrics.compatRequests.inc({
      api: 'piston',
      route: `${req.method} ${req.routeOptions.url ?? 'unmatched'}`,
      status_code: reply.statusCode,
    });
  });
  await app.register(fastifyWebsocket, { options: { maxPayload: 1024 * 1024 } });
  for (const prefix of PISTON_PREFIXES) await app.register(pistonRoutes, { piston, input, prefix });
}
