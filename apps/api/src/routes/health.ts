import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { redisKeys } from '@sbx/shared';
import { Type } from '@sinclair/typebox';

const Readiness = Type.Object({
  ready: Type.Boolean(),
  redis: Type.Boolean(),
  workers: Type.Integer({ description: 'Workers seen within SBX_WORKER_STALE_MS.' }),
  reason: Type.Optional(Type.String()),
});

export const healthRoutes: FastifyPluginAsyncTypebox<{ keyPrefix: string; workerStaleMs: number }> = async (
  app,
  { keyPrefix, workerStaleMs },
) => {
  const { workers } = redisKeys(keyPrefix);

  app.get(
    '/healthz',
    { schema: { summary: 'The API process is alive', response: { 200: Type.Object({ ok: Type.Boolean() }) } } },
    async () => ({ ok: true }),
  );

  app.get(
    '/readyz',
    {
      schema: { summary: 'Redis answers and a worker was seen recently', response: { 200: Readiness, 503: Readiness } },
    },
    async (_req, reply) => {
      let redis = false;
      let live = 0;
      try {
        live = await app.redis.zcount(workers, Date.now() - workerStaleMs, '+inf');
        redis = true;
      } catch {
        // reported below
      }
      const reason = !redis ? 'redis is unreachable' : live === 0 ? 'no worker seen recently' : undefined;
      return reply
        .status(reason ? 503 : 200)
        .send({ ready: !reason, redis, workers: live, ...(reason ? { reason } : {}) });
    },
  );
};
