import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { redisKeys } from '@sbx/shared';
import { Type } from '@sinclair/typebox';

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
  const keys = redisKeys(keyPrefix);

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
      let live: string[] = [];
      let health: (string | null)[] = [];
      try {
        live = await app.redis.zrangebyscore(keys.workers, Date.now() - workerStaleMs, '+inf');
        health = live.length ? await app.redis.hmget(keys.workerHealth, ...live) : [];
        redis = true;
      } catch {
        // reported below
      }
      const checks = health.map((h) => (h ? (JSON.parse(h) as WorkerHealth) : null));
      const healthy = checks.filter((c) => c?.ok).length;
      const failed = checks.filter((c): c is WorkerHealth => c !== null && !c.ok);
      let reason: string | undefined;
      if (!redis) reason = 'redis is unreachable';
      else if (live.length === 0) reason = 'no worker seen recently';
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

interface WorkerHealth {
  ok: boolean;
  failures: { check: string; detail: string }[];
}
