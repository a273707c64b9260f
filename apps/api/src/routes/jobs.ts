import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  ApiError,
  ErrorBodySchema,
  JobAcceptedSchema,
  JobIdParamsSchema,
  JobRequestSchema,
  JobViewSchema,
} from '@sbx/shared';
import type { JobService } from '../services/jobs.js';

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 413: ErrorBodySchema, 503: ErrorBodySchema };

export const jobsRoutes: FastifyPluginAsyncTypebox<{ jobs: JobService }> = async (app, { jobs }) => {
  app.post(
    '/jobs',
    {
      schema: {
        summary: 'Queue a program; poll GET /jobs/:id for the result',
        body: JobRequestSchema,
        response: { 202: JobAcceptedSchema, ...errors },
      },
    },
    async (req, reply) => {
      const job = await jobs.submit(req.body, req.id);
      return reply
        .status(202)
        .header('location', `/jobs/${job.id}`)
        .send({ id: job.id as string, state: 'queued' as const });
    },
  );

  app.get(
    '/jobs/:id',
    {
      schema: {
        summary: 'A job: queued, running, or completed with its result',
        params: JobIdParamsSchema,
        response: { 200: JobViewSchema, 401: ErrorBodySchema, 404: ErrorBodySchema },
      },
    },
    async (req) => {
      const view = await jobs.view(req.params.id);
      if (!view) throw new ApiError('not_found', `no job ${req.params.id} (unknown, or its result has expired)`);
      return view;
    },
  );
};
