import { API_ERRORS, LANES, type Lane, type RedisMemory } from '@sbx/shared';
import fp from 'fastify-plugin';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { WORKER_STATES, type WorkerState } from '../services/workers.js';

/** POST /run answers when its job has: the buckets reach past the 2 s limit and a cold start. */
const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60];
/** Requests no route matched share one label value: raw URLs would grow the series without bound. */
export const UNMATCHED_ROUTE = 'unmatched';
/** A scrape must answer even when Redis hangs: a read slower than this counts as none (a PING: Redis down). */
const REDIS_PING_TIMEOUT_MS = 1000;

/** The result of `work`, or null when it fails or takes longer than a scrape may wait. */
async function withinScrape<T>(work: () => Promise<T>): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((r) => {
    timer = setTimeout(() => r(null), REDIS_PING_TIMEOUT_MS);
  });
  try {
    return await Promise.race([work().catch(() => null), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** True when `ping` answers within the bound. */
async function answers(ping: () => Promise<unknown>): Promise<boolean> {
  const answered = await withinScrape(async () => {
    await ping();
    return true;
  });
  return answered ?? false;
}

/** One INFO per scrape for both memory gauges: the second reuses the first's answer. */
function sharedRead<T>(read: () => Promise<T | null>, reuseMs = 1000): () => Promise<T | null> {
  let last: { at: number; value: Promise<T | null> } | null = null;
  return () => {
    const now = Date.now();
    if (!last || now - last.at > reuseMs) last = { at: now, value: read() };
    return last.value;
  };
}

/** Where the scrape-time gauges read from: each is set once what it reads exists. */
interface ScrapeSources {
  depth: (() => Promise<Record<Lane, number>>) | null;
  workers: (() => Promise<Record<WorkerState, number>>) | null;
  ping: (() => Promise<unknown>) | null;
  memory: (() => Promise<RedisMemory>) | null;
}

/** The Redis memory gauges, both from one INFO per scrape. */
function redisMemoryGauges(registry: Registry, from: ScrapeSources) {
  const memoryNow = sharedRead(async () => (from.memory ? withinScrape(from.memory) : null));
  return {
    redisMemoryUsed: new Gauge({
      name: 'sbx_redis_memory_used_bytes',
      help: "Redis's used_memory, read with INFO memory at scrape time (every API replica reports the same). At sbx_redis_memory_max_bytes Redis refuses writes: new jobs get 503 storage_full.",
      registers: [registry],
      async collect() {
        // Redis away: the last value stands; sbx_api_redis_up tells.
        const now = await memoryNow();
        if (now) this.set(now.usedBytes);
      },
    }),
    redisMemoryMax: new Gauge({
      name: 'sbx_redis_memory_max_bytes',
      help: "Redis's maxmemory, read with INFO memory at scrape time (0: no limit).",
      registers: [registry],
      async collect() {
        const now = await memoryNow();
        if (now) this.set(now.maxBytes);
      },
    }),
  };
}

/** The gauges read from Redis at scrape time besides its memory: the fleet, the connection, the queue. */
function scrapeGauges(registry: Registry, from: ScrapeSources) {
  return {
    workers: new Gauge({
      name: 'sbx_workers',
      help: 'Workers with a fresh heartbeat by state: ready (takes jobs), starting (self-check running), self_check_failed, docker_unreachable (read from Redis at scrape time; every API replica reports the same).',
      labelNames: ['state'],
      registers: [registry],
      async collect() {
        // Redis away: the last value stands (as for sbx_queue_depth); sbx_api_redis_up tells.
        const now = await from.workers?.().catch(() => null);
        if (now) for (const state of WORKER_STATES) this.set({ state }, now[state]);
      },
    }),
    redisUp: new Gauge({
      name: 'sbx_api_redis_up',
      help: "1 when this API's Redis connection answers a PING within 1 s at scrape time, 0 when not (jobs are refused with 503 then).",
      registers: [registry],
      async collect() {
        if (from.ping) this.set((await answers(from.ping)) ? 1 : 0);
      },
    }),
    queueDepth: new Gauge({
      name: 'sbx_queue_depth',
      help: 'Jobs waiting to start, by lane (read from Redis at scrape time; every API replica reports the same).',
      labelNames: ['lane'],
      registers: [registry],
      async collect() {
        // Redis away: the last value stands rather than the scrape failing; the API's own 503s tell.
        const now = await from.depth?.().catch(() => null);
        if (now) for (const lane of LANES) this.set({ lane }, now[lane]);
      },
    }),
  };
}

export function createApiMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sbx_api_' });
  const errors = new Counter({
    name: 'sbx_api_errors_total',
    help: 'Error answers by their stable code (validation_failed, queue_full, rate_limited, ...).',
    labelNames: ['code'],
    registers: [registry],
  });
  // Zeros for every known code: a rate over the first error of a kind has a sample before it.
  for (const code of Object.keys(API_ERRORS)) errors.inc({ code }, 0);
  const from: ScrapeSources = { depth: null, workers: null, ping: null, memory: null };
  return {
    registry,
    /** Where sbx_queue_depth reads from: set once the job service exists. */
    readDepthFrom(read: () => Promise<Record<Lane, number>>) {
      from.depth = read;
    },
    /** Where sbx_workers reads from (the heartbeats in Redis): set once Redis is connected. */
    readWorkersFrom(read: () => Promise<Record<WorkerState, number>>) {
      from.workers = read;
    },
    /** How sbx_api_redis_up asks Redis: set once Redis is connected. */
    pingRedisWith(send: () => Promise<unknown>) {
      from.ping = send;
    },
    /** Where the Redis memory gauges read from (INFO memory): set once Redis is connected. */
    readRedisMemoryFrom(read: () => Promise<RedisMemory>) {
      from.memory = read;
    },
    // Registered in this order, which is the order a scrape lists them in.
    ...redisMemoryGauges(registry, from),
    ...scrapeGauges(registry, from),
    requests: new Histogram({
      name: 'sbx_http_request_duration_seconds',
      help: 'API requests by method, route pattern and status (POST /run includes the wait for its result).',
      labelNames: ['method', 'route', 'status_code'],
      buckets: SECONDS_BUCKETS,
      registers: [registry],
    }),
    errors,
    compatRequests: new Counter({
      name: 'sbx_compat_requests_total',
      help: 'Requests to the drop-in APIs (api: judge0, piston) by method and route pattern, and status.',
      labelNames: ['api', 'route', 'status_code'],
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
      // The compat APIs answer in their own shapes and name our code in a header instead.
      const named = reply.getHeader('x-sbx-error');
      const code =
        reply.statusCode >= 400
          ? (errorCode(payload) ?? (typeof named === 'string' && Object.hasOwn(API_ERRORS, named) ? named : null))
          : null;
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
