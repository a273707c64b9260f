import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  DEFAULT_LANE,
  ErrorBodySchema,
  JobAcceptedSchema,
  JobRequestSchema,
  type RunResult,
  RunResultSchema,
} from '@sbx/shared';
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
        description: `Answers 200 with the result, or 202 with the job id if it has not finished within SBX_RUN_WAIT_MS (${waitMs} ms); the job is not lost, poll GET /jobs/:id. With an \`Idempotency-Key\` header, a retry after a dropped connection waits for the same job (or answers its stored result) instead of running the code again; the same key with another body is a 409 idempotency_conflict.`,
        body: JobRequestSchema,
        response: {
          200: RunResultSchema,
          202: JobAcceptedSchema,
          400: ErrorBodySchema,
          401: ErrorBodySchema,
          409: ErrorBodySchema,
          413: ErrorBodySchema,
          503: ErrorBodySchema,
        },
      },
    },
    async (req, reply) => {
      const key = req.headers['idempotency-key'];
      let id: string;
      let result: RunResult | null;
      if (typeof key === 'string') {
        const submitted = await jobs.submitIdempotent(req.body, req.id, req.tenant, key, DEFAULT_LANE.run);
        if (submitted.replay) reply.header('idempotent-replayed', 'true');
        id = submitted.id;
        result = await jobs.waitForResultById(id, app.queueEvents, waitMs, req.tenant);
      } else {
        const job = await jobs.submit(req.body, req.id, req.tenant, DEFAULT_LANE.run);
        id = job.id as string;
        result = await jobs.waitForResult(job, app.queueEvents, waitMs, req.tenant);
      }
      if (result) return reply.status(200).send(result);
      return reply
        .status(202)
        .header('location', `/jobs/${id}`)
        .send({ id, state: 'queued' as const, ...(await jobs.place(id)) });
    },
  );
};
