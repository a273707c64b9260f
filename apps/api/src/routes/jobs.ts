import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  ApiError,
  DEFAULT_LANE,
  ErrorBodySchema,
  JobAcceptedSchema,
  JobIdParamsSchema,
  JobIdSchema,
  JobRequestSchema,
  JobViewSchema,
} from '@sbx/shared';
import { Type } from '@sinclair/typebox';
import { type EventTokens, tokensReadyHook } from '../services/event-tokens.js';
import type { JobService } from '../services/jobs.js';

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 413: ErrorBodySchema, 503: ErrorBodySchema };

export const jobsRoutes: FastifyPluginAsyncTypebox<{ jobs: JobService; waitMs: number; tokens: EventTokens }> = async (
  app,
  { jobs, waitMs, tokens },
) => {
  const eventsUrl = (jobId: string, tenantId: string) => tokens.eventsUrl({ jobId, tenantId });
  const tokensReady = tokensReadyHook(tokens);
  app.post(
    '/jobs',
    {
      preHandler: tokensReady,
      schema: {
        summary: 'Queue a program; poll GET /jobs/:id for the result',
        description:
          'With an `Idempotency-Key` header, the same key and body return the same job (for 24 h); the same key with another body is a 409 idempotency_conflict.',
        body: JobRequestSchema,
        response: { 202: JobAcceptedSchema, 409: ErrorBodySchema, ...errors },
      },
    },
    async (req, reply) => {
      const key = req.headers['idempotency-key'];
      if (typeof key === 'string') {
        const { id, replay } = await jobs.submitIdempotent(req.body, req.id, req.tenant, key, DEFAULT_LANE.jobs);
        if (replay) reply.header('idempotent-replayed', 'true');
        return reply
          .status(202)
          .header('location', `/jobs/${id}`)
          .send({
            id,
            state: 'queued' as const,
            events_url: await eventsUrl(id, req.tenant.id),
            ...(await jobs.place(id)),
          });
      }
      const job = await jobs.submit(req.body, req.id, req.tenant, DEFAULT_LANE.jobs);
      const id = job.id as string;
      return reply
        .status(202)
        .header('location', `/jobs/${id}`)
        .send({
          id,
          state: 'queued' as const,
          events_url: await eventsUrl(id, req.tenant.id),
          ...(await jobs.place(id, job.data)),
        });
    },
  );

  app.get(
    '/jobs/:id',
    {
      schema: {
        summary: 'A job: queued, running, or completed with its result',
        description:
          'With `?wait_ms=N`, an unfinished job is answered when it completes or after N ms (capped at SBX_RUN_WAIT_MS), whichever comes first: one request instead of a polling loop.',
        params: JobIdParamsSchema,
        querystring: Type.Object(
          {
            // A string: query values are not coerced (bodies must not be), so the number is checked here.
            wait_ms: Type.Optional(
              Type.String({
                pattern: '^[0-9]{1,9}$',
                description: `Milliseconds, capped at SBX_RUN_WAIT_MS (${waitMs}).`,
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: JobViewSchema, 400: ErrorBodySchema, 401: ErrorBodySchema, 404: ErrorBodySchema },
      },
    },
    async (req) => {
      const { id } = req.params;
      // Capped, not refused: a long poll may always answer early, and the client simply asks again.
      const wait = Math.min(Number(req.query.wait_ms ?? 0), waitMs);
      let view = await jobs.view(id, req.tenant);
      if (!view) throw new ApiError('not_found', `no job ${id} (unknown, or its result has expired)`);
      if (wait > 0 && view.state !== 'completed') {
        await jobs.waitForResultById(id, app.queueEvents, wait, req.tenant);
        view = (await jobs.view(id, req.tenant)) ?? view;
      }
      return view;
    },
  );

  app.get(
    '/jobs/:id/artifacts/*',
    {
      schema: {
        summary: "One artifact of a job's result (a figure, or a file from /tmp/outputs), as its raw bytes",
        description:
          "The content type is the artifact's mime. Artifacts are the program's own content: they are served with `Content-Security-Policy: sandbox` and `nosniff`, so an SVG or HTML one cannot run script in the API's origin. Readable as long as the result (SBX_RESULT_TTL_SECONDS).",
        params: Type.Object({ id: JobIdSchema, '*': Type.String({ maxLength: 256 }) }),
        response: {
          200: Type.Unsafe<Buffer>({ type: 'string', format: 'binary', description: 'The raw bytes.' }),
          401: ErrorBodySchema,
          404: ErrorBodySchema,
        },
      },
    },
    async (req, reply) => {
      const { id, '*': name } = req.params;
      const found = await jobs.artifact(id, name, req.tenant);
      if (!found) throw new ApiError('not_found', `no artifact ${JSON.stringify(name)} for job ${id}`);
      return reply
        .header('content-type', found.mime)
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; sandbox")
        .header('cache-control', 'private, max-age=3600')
        .send(found.data);
    },
  );

  app.post(
    '/jobs/batch',
    {
      preHandler: tokensReady,
      schema: {
        summary: 'Queue up to 20 programs at once; all are checked before any is queued',
        body: Type.Object(
          { jobs: Type.Array(JobRequestSchema, { minItems: 1, maxItems: 20 }) },
          { additionalProperties: false },
        ),
        response: { 202: Type.Object({ jobs: Type.Array(JobAcceptedSchema) }), ...errors },
      },
    },
    async (req, reply) => {
      const ids = await jobs.submitBatch(req.body.jobs, req.id, req.tenant);
      const accepted = ids.map(async (id) => ({
        id,
        state: 'queued' as const,
        events_url: await eventsUrl(id, req.tenant.id),
      }));
      return reply.status(202).send({ jobs: await Promise.all(accepted) });
    },
  );

  app.get(
    '/jobs',
    {
      schema: {
        summary: 'Several jobs at once: ?ids=a,b,c (up to 100)',
        querystring: Type.Object({ ids: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            jobs: Type.Array(
              Type.Union([JobViewSchema, Type.Object({ id: Type.String(), state: Type.Literal('not_found') })]),
            ),
          }),
          400: ErrorBodySchema,
          401: ErrorBodySchema,
        },
      },
    },
    async (req) => {
      const ids = [
        ...new Set(
          req.query.ids
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        ),
      ];
      if (ids.length > 100) throw new ApiError('validation_failed', `${ids.length} ids; the maximum is 100`);
      const views = await Promise.all(ids.map((id) => jobs.view(id, req.tenant)));
      return { jobs: views.map((v, i) => v ?? { id: ids[i] as string, state: 'not_found' as const }) };
    },
  );

  app.delete(
    '/jobs/:id',
    {
      schema: {
        summary: 'Cancel a job: a queued one is dropped, a running one has its container killed',
        params: JobIdParamsSchema,
        response: {
          200: JobViewSchema,
          202: Type.Object({ id: Type.String(), state: Type.Literal('running') }),
          401: ErrorBodySchema,
          404: ErrorBodySchema,
          409: ErrorBodySchema,
        },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const outcome = await jobs.cancel(id, req.tenant);
      if (outcome === null) throw new ApiError('not_found', `no job ${id}`);
      if (outcome === 'finished') throw new ApiError('job_finished', `job ${id} has already finished`);
      if (outcome === 'cancelling') return reply.status(202).send({ id, state: 'running' as const });
      return reply.status(200).send((await jobs.view(id, req.tenant)) ?? { id, state: 'completed' as const });
    },
  );

  app.post(
    '/jobs/:id/webhook/redeliver',
    {
      schema: {
        summary: "Send a finished job's webhook again, with a new webhook-id",
        params: JobIdParamsSchema,
        response: { 202: JobViewSchema, 400: ErrorBodySchema, 401: ErrorBodySchema, 404: ErrorBodySchema },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      if (!(await jobs.redeliver(id, req.tenant))) throw new ApiError('not_found', `job ${id} has no webhook delivery`);
      return reply.status(202).send((await jobs.view(id, req.tenant)) ?? { id, state: 'completed' as const });
    },
  );
};
