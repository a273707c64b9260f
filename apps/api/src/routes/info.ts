import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ErrorBodySchema, ServiceInfoSchema } from '@sbx/shared';
import type { JobService } from '../services/jobs.js';

export const infoRoutes: FastifyPluginAsyncTypebox<{ jobs: JobService }> = async (app, { jobs }) => {
  app.get(
    '/info',
    {
      schema: {
        summary: 'The runtime, and the limits, policies and comparators this caller may ask for',
        description: "A tenant's own maxima are applied: the figures are what POST /jobs enforces for this key.",
        response: { 200: ServiceInfoSchema, 401: ErrorBodySchema },
      },
    },
    async (req) => jobs.info(req.tenant),
  );
};
