import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { WorkerHealth } from '@sbx/shared';
import { Type } from '@sinclair/typebox';
import { liveWorkers } from '../services/workers.js';

const Readiness = Type.Object({
  ready: Type.Boolean(),
  redis: Type.Boolean(),
  workers: Type.Integer({ description: 'Workers seen within SBX_WORKER_STALE_MS whose self-check passed.' }),
  reason: Type.Optional(Type.String()),
});

export const healthRoutes: FastifyPluginAsyncTypebox<{ keyPrefix: string; workerStaleMs: number }> = async (
  app,
  { keyPrefix, workerStaleMs },
) => {
  app.get(
    '/healthz',
    { schema: { summary: 'The API process is alive', response: { 200: Type.Object({ ok: Type.Boolean() }) } } },
    async () => ({ ok: true }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Redis answers and a worker that passed its sandbox self-check was seen recently',
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_req, reply) => {
      let redis = false;
      let live: Awaited<ReturnType<typeof liveWorkers>> = [];
      try {
        live = await liveWorkers(app.redis, keyPrefix, workerStaleMs);
        redis = true;
      } catch {
        // reported below
      }
      const checks = live.map((w) => w.health);
      const healthy = checks.filter((c) => c?.ok && !c.docker_unreachable).length;
      const failed = checks.filter((c): c is WorkerHealth => c !== null && !c.ok);
      const dockerless = checks.filter((c) => c?.docker_unreachable).length;
      let reason: string | undefined;
      if (!redis) reason = 'redis is unreachable';
      else if (live.length === 0) reason = 'no worker seen recently';
      else if (healthy === 0 && dockerless > 0)
        reason = `docker unreachable: ${dockerless} worker(s) wait for their Docker engine and take no jobs`;
      else if (healthy === 0 && failed.length > 0)
        reason = `worker self-check failed: ${failed
          .flatMap((f) => f.failures)
          .map((f) => `${f.check} (${f.detail})`)
          .join('; ')}`;
      else if (healthy === 0) reason = 'workers are starting (sandbox self-check running)';
      return reply
        .status(reason ? 503 : 200)
        .send({ ready: !reason, redis, workers: healthy, ...(reason ? { reason } : {}) });
    },
  );
};
