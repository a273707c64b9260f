import cors from '@fastify/cors';
import fp from 'fastify-plugin';

/**
 * Browsers may call the API from the configured origins only; with none configured no CORS header
 * is sent and browsers keep to the same origin. Keys travel as a Bearer header, never as cookies, so
 * credentials mode stays off.
 */
export default fp<{ origins: string[] }>(
  async (app, { origins }) => {
    if (origins.length === 0) return;
    await app.register(cors, {
      origin: origins.includes('*') ? '*' : origins,
      methods: ['GET', 'POST', 'DELETE'],
      // x-auth-token: the Judge0 routes' key header (compat/judge0), which answer preflights from the
      // configured origins through this plugin too.
      allowedHeaders: ['authorization', 'content-type', 'idempotency-key', 'x-request-id', 'x-auth-token'],
      exposedHeaders: [
        'x-request-id',
        'location',
        'idempotent-replayed',
        'retry-after',
        'x-ratelimit-limit',
        'x-ratelimit-remaining',
        'x-ratelimit-reset',
        // The Piston routes' own: limits clamped, our verdict and job id (compat/piston).
        'x-sbx-clamped',
        'x-sbx-status',
        'x-sbx-job-id',
      ],
      maxAge: 600,
    });
  },
  { name: 'cors' },
);
