import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ErrorBodySchema, JobAcceptedSchema, JobRequestSchema, RunResultSchema } from '@sbx/shared';
import type { JobService } from '../services/jobs.js';

export const runRoutes: FastifyPluginAsyncTypebox<{ jobs: JobService; waitMs: number }> = async (
  app,
  { jobs, waitMs },
) => {
  app.post(
    '/run',
    {
      schema: {
        summary: 'Run a program and wait for its result',
        description: `Answers 200 with the result, or 202 with the job id if it has not finished within SBX_RUN_WAIT_MS (${waitMs} ms); the job is not lost, poll GET /jobs/:id.`,
        body: JobRequestSchema,
        response: {
          200: RunResultSchema,
          202: JobAcceptedSchema,
          400: ErrorBodySchema,
          401: ErrorBodySchema,
          413: ErrorBodySchema,
          503: ErrorBodySchema,
        },
      },
    },
    async (req, reply) => {
      const job = await jobs.submit(req.body, req.id, req.tenant);
      const result = await jobs.waitForResult(job, app.queueEvents, waitMs, req.tenant);
      if (result) return reply.status(200).send(result);
      return reply
        .status(202)
        .header('location', `/jobs/${job.id}`)
        .send({ id: job.id as string, state: 'queued' as const });
    },
  );
};
