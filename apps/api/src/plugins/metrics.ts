import { API_ERRORS, LANES, type Lane } from '@sbx/shared';
import fp from 'fastify-plugin';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** POST /run answers when its job has: the buckets reach past the 2 s limit and a cold start. */
const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60];
/** Requests no route matched share one label value: raw URLs would grow the series without bound. */
export const UNMATCHED_ROUTE = 'unmatched';

export function createApiMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sbx_api_' });
  let depth: (() => Promise<Record<Lane, number>>) | null = null;
  return {
    registry,
    /** Where sbx_queue_depth reads from: set once the job service exists. */
    readDepthFrom(read: () => Promise<Record<Lane, number>>) {
      depth = read;
    },
    queueDepth: new Gauge({
      name: 'sbx_queue_depth',
      help: 'Jobs waiting to start, by lane (read from Redis at scrape time; every API replica reports the same).',
      labelNames: ['lane'],
      registers: [registry],
      async collect() {
        // Redis away: the last value stands rather than the scrape failing; the API's own 503s tell.
        const now = await depth?.().catch(() => null);
        if (now) for (const lane of LANES) this.set({ lane }, now[lane]);
      },
    }),
    requests: new Histogram({
      name: 'sbx_http_request_duration_seconds',
      help: 'API requests by method, route pattern and status (POST /run includes the wait for its result).',
      labelNames: ['method', 'route', 'status_code'],
      buckets: SECONDS_BUCKETS,
      registers: [registry],
    }),
    errors: new Counter({
      name: 'sbx_api_errors_total',
      help: 'Error answers by their stable code (validation_failed, queue_full, rate_limited, ...).',
      labelNames: ['code'],
      registers: [registry],
    }),
  };
}
export type ApiMetrics = ReturnType<typeof createApiMetrics>;

declare module 'fastify' {
  interface FastifyInstance {
    metrics: ApiMetrics;
  }
}

/** The code of an error body this API wrote, or null: only the known codes become label values. */
function errorCode(payload: unknown): string | null {
  if (typeof payload !== 'string') return null;
  try {
    const code = (JSON.parse(payload) as { code?: unknown }).code;
    return typeof code === 'string' && Object.hasOwn(API_ERRORS, code) ? code : null;
  } catch {
    return null;
  }
}

export default fp(
  async (app) => {
    const metrics = createApiMetrics();
    app.decorate('metrics', metrics);
    app.addHook('onSend', async (_req, reply, payload) => {
      // Only error bodies: a 503 from /readyz is a probe's answer, counted with the requests.
      const code = reply.statusCode >= 400 ? errorCode(payload) : null;
      if (code) metrics.errors.inc({ code });
      return payload;
    });
    app.addHook('onResponse', async (req, reply) => {
      metrics.requests.observe(
        { method: req.method, route: req.routeOptions.url ?? UNMATCHED_ROUTE, status_code: reply.statusCode },
        reply.elapsedTime / 1000,
      );
    });
  },
  { name: 'metrics' },
);
