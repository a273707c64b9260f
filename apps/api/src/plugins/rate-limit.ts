import rateLimit from '@fastify/rate-limit';
import { ApiError } from '@sbx/shared';
import fp from 'fastify-plugin';
import { isPublic } from './auth.js';

/**
 * Requests per minute per tenant, counted in Redis so every API instance shares the budget. Answers 429
 * `rate_limited` with Retry-After and the x-ratelimit-* headers. Probes and docs are not counted.
 */
export default fp<{ prefix: string }>(
  async (app, { prefix }) => {
    await app.register(rateLimit, {
      redis: app.redis,
      nameSpace: `${prefix}:rate:`,
      timeWindow: 60_000,
      max: (req) => req.tenant?.ratePerMinute ?? 60,
      keyGenerator: (req) => req.tenant?.id ?? req.ip,
      allowList: (req) => isPublic(req.url),
      // Redis down must not turn every request into a 500: the queue's own 503 speaks for it.
      skipOnError: true,
      errorResponseBuilder: (_req, ctx) =>
        new ApiError('rate_limited', `rate limit of ${ctx.max} requests per minute reached; retry in ${ctx.after}`),
    });
  },
  { name: 'rate-limit', dependencies: ['redis', 'auth'] },
);
