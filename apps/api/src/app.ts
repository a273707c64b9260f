import { randomUUID } from 'node:crypto';
import { fastifySSE } from '@fastify/sse';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { PLAYGROUND_DIST } from '@sbx/playground';
import {
  type ApiConfig,
  readRedisMemory,
  redisConnectionOptions,
  redisKeys,
  replicaFenceFor,
  StorageLedger,
} from '@sbx/shared';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { judge0Plugin } from './compat/judge0/plugin.js';
import { pistonApi } from './compat/piston/index.js';
import { clientErrorHandler } from './http/client-errors.js';
import { EventStreams, HEARTBEAT_MS } from './http/event-streams.js';
import { requestForLog } from './http/request-log.js';
import auth from './plugins/auth.js';
import cors from './plugins/cors.js';
import errors, { frameworkErrors, MAX_PARAM_CHARS } from './plugins/errors.js';
import httpProtocol from './plugins/http-protocol.js';
import jsonBody from './plugins/json-body.js';
import metrics from './plugins/metrics.js';
import playground from './plugins/playground.js';
import queue from './plugins/queue.js';
import rateLimit from './plugins/rate-limit.js';
import redis from './plugins/redis.js';
import swagger from './plugins/swagger.js';
import webhooks from './plugins/webhooks.js';
import { healthRoutes } from './routes/health.js';
import { infoRoutes } from './routes/info.js';
import { jobEventsRoutes } from './routes/job-events.js';
import { jobInputRoutes } from './routes/job-input.js';
import { jobsRoutes } from './routes/jobs.js';
import { runRoutes } from './routes/run.js';
import { EventTokens } from './services/event-tokens.js';
import { JobEvents } from './services/job-events.js';
import { JobInput } from './services/job-input.js';
import { JobService } from './services/jobs.js';
import { countWorkerStates, liveWorkers } from './services/workers.js';

const REQUEST_ID = /^[\w.-]{1,64}$/;

/** JSON escapes can inflate each byte up to six: the body limit leaves room for that, the 413s above are exact. */
export function bodyLimitFor(config: Pick<ApiConfig, 'maxCodeBytes' | 'maxStdinBytes'>): number {
  return 6 * (config.maxCodeBytes + config.maxStdinBytes) + 64 * 1024;
}

/**
 * Builds the API; server.ts listens. Tests call `app.inject()`. `playgroundDir`: where the built
 * playground is (default: @sbx/playground's dist/).
 */
export async function buildApp(
  config: ApiConfig,
  options: { logger?: FastifyServerOptions['logger']; playgroundDir?: string } = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? { level: config.logLevel, serializers: { req: requestForLog } },
    bodyLimit: bodyLimitFor(config),
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Unknown fields are refused, not silently dropped; "100" is not a number.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    // What Fastify and Node refuse before any route runs gets our error shape too (plugins/errors.ts).
    frameworkErrors,
    clientErrorHandler,
    routerOptions: { maxParamLength: MAX_PARAM_CHARS },
    // Node's own Host check answers with an empty body; plugins/http-protocol.ts makes the same check.
    http: { requireHostHeader: false },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // JSON only: anything else is a clear 415 rather than a confusing validation error.
  app.removeContentTypeParser('text/plain');
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  await app.register(metrics);
  await app.register(errors);
  await app.register(httpProtocol);
  await app.register(jsonBody);
  await app.register(cors, { origins: config.corsOrigins });
  await app.register(swagger);
  await app.register(playground, { dir: options.playgroundDir ?? PLAYGROUND_DIST });
  await app.register(fastifySSE, { heartbeatInterval: HEARTBEAT_MS });
  await app.register(redis, { connection: redisConnectionOptions(config) });
  const tokens = new EventTokens(app.redis, redisKeys(config.prefix).eventsTokenSecret);
  await app.register(auth, { config, tokens });
  await app.register(rateLimit, { prefix: config.prefix });
  await app.register(queue, {
    connection: redisConnectionOptions(config),
    name: config.queueName,
    prefix: config.prefix,
  });

  await app.register(webhooks, { config });

  // WAIT gets a connection of its own: one stuck in a WAIT would hold every read queued behind it.
  const fenceConnection = config.redisWaitReplicas > 0 ? app.redis.duplicate() : null;
  if (fenceConnection) {
    fenceConnection.on('error', (err) => app.log.warn({ err: err.message }, 'redis replica fence connection error'));
    await fenceConnection.connect();
    app.addHook('onClose', async () => fenceConnection.disconnect());
  }
  const fence = fenceConnection ? replicaFenceFor(fenceConnection, config) : null;
  const jobs = new JobService(app.queue, app.redis, config, app.webhooks, fence);
  app.metrics.readDepthFrom(() => jobs.depth());
  app.metrics.readWorkersFrom(async () =>
    countWorkerStates(await liveWorkers(app.redis, config.prefix, config.workerStaleMs)),
  );
  app.metrics.pingRedisWith(() => app.redis.ping());
  app.metrics.readRedisMemoryFrom(() => readRedisMemory(app.redis));
  await app.register(healthRoutes, { keyPrefix: config.prefix, workerStaleMs: config.workerStaleMs });
  await app.register(jobsRoutes, { jobs, waitMs: config.runWaitMs, tokens });
  const events = new JobEvents({
    redis: app.redis,
    prefix: config.prefix,
    view: (id, tenant) => jobs.view(id, tenant),
    capBytes: config.maxOutputBytes,
  });
  const streams = new EventStreams({ max: config.maxViewers, maxPerTenant: config.maxViewersPerTenant });
  app.addHook('preClose', async () => streams.closeAll());
  await app.register(jobEventsRoutes, { events, streams });
  const ledger = new StorageLedger(app.redis, config.prefix, config.resultTtlSeconds);
  const input = new JobInput(app.redis, config, (id, tenant) => jobs.ownedBy(id, tenant), ledger);
  await app.register(jobInputRoutes, { input, maxCallBytes: config.stdinMaxCallBytes });
  await app.register(infoRoutes, { jobs });
  await app.register(runRoutes, { jobs, waitMs: config.runWaitMs, events, streams, tokens });
  await registerCompat(app, config, { jobs, events, input });
  return app;
}

/** The drop-in APIs other services' clients speak (docs/compat.md), each behind its own switch. */
async function registerCompat(
  app: FastifyInstance,
  config: ApiConfig,
  { jobs, events, input }: { jobs: JobService; events: JobEvents; input: JobInput },
): Promise<void> {
  if (config.pistonApi) await app.register(pistonApi, { jobs, events, input, config });
  if (config.judge0Api)
    await app.register(judge0Plugin, {
      jobs,
      config,
      webhooksConfigured: Boolean(app.webhooks),
      prefix: config.judge0Prefix,
    });
}
