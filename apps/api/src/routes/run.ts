import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  DEFAULT_LANE,
  ErrorBodySchema,
  JobAcceptedSchema,
  type JobRequest,
  JobRequestSchema,
  type RunResult,
  RunResultSchema,
  type Tenant,
} from '@sbx/shared';
import type { EventStreams, StreamReply, StreamRequest } from '../http/event-streams.js';
import { type EventTokens, tokensReadyHook } from '../services/event-tokens.js';
import type { JobEvents } from '../services/job-events.js';
import type { JobService } from '../services/jobs.js';

interface RunRoutesOptions {
  jobs: JobService;
  waitMs: number;
  events: JobEvents;
  streams: EventStreams;
  tokens: EventTokens;
}

export const runRoutes: FastifyPluginAsyncTypebox<RunRoutesOptions> = async (
  app,
  { jobs, waitMs, events, streams, tokens },
) => {
  const accepted = async (id: string, tenant: Tenant) => ({
    id,
    state: 'queued' as const,
    events_url: await tokens.eventsUrl({ jobId: id, tenantId: tenant.id }),
  });
  app.post(
    '/run',
    {
      // Before anything is queued: a Redis failure here is a 503 that says nothing was queued.
      preHandler: tokensReadyHook(tokens),
      // 'dual': `Accept: text/event-stream` streams the run's events in this one round trip; any
      // other Accept gets the result as before.
      sse: 'dual',
      schema: {
        summary: 'Run a program and wait for its result',
        description: `Answers 200 with the result, or 202 with the job id if it has not finished within SBX_RUN_WAIT_MS (${waitMs} ms); the job is not lost, poll GET /jobs/:id. With \`Accept: text/event-stream\`, answers with the job's live events instead (as GET /jobs/:id/events, the job's URL in \`Location\`), ending with its result. With an \`Idempotency-Key\` header, a retry after a dropped connection waits for the same job (or answers its stored result) instead of running the code again; the same key with another body is a 409 idempotency_conflict.`,
        body: JobRequestSchema,
        response: {
          200: RunResultSchema,
          202: JobAcceptedSchema,
          400: ErrorBodySchema,
          401: ErrorBodySchema,
          409: ErrorBodySchema,
          413: ErrorBodySchema,
          429: ErrorBodySchema,
          503: ErrorBodySchema,
        },
      },
    },
    async (req, reply) => {
      if (reply.sse) {
        const { id, sent } = await streamRun({ jobs, events, streams }, req, reply);
        // Not one event (its result expired under a replayed key): the job's own answer.
        if (!sent) return reply.status(202).send(await accepted(id, req.tenant));
        return;
      }
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
        .send({ ...(await accepted(id, req.tenant)), ...(await jobs.place(id)) });
    },
  );
};

/**
 * POST /run streamed: the job queued as usual, then its events from the start until its result, on
 * this response (its URL in Location, for a client that reconnects to GET /jobs/:id/events).
 * `sent` is false when not a single event was: the head is not sent, the caller answers.
 */
async function streamRun(
  { jobs, events, streams }: Omit<RunRoutesOptions, 'waitMs' | 'tokens'>,
  req: StreamRequest & { body: JobRequest; tenant: Tenant; headers: Record<string, string | string[] | undefined> },
  reply: StreamReply,
): Promise<{ id: string; sent: boolean }> {
  const seat = streams.reserve(req.tenant.id);
  try {
    const key = req.headers['idempotency-key'];
    let id: string;
    if (typeof key === 'string') {
      const submitted = await jobs.submitIdempotent(req.body, req.id, req.tenant, key, DEFAULT_LANE.run);
      if (submitted.replay) reply.header('idempotent-replayed', 'true');
      id = submitted.id;
    } else id = (await jobs.submit(req.body, req.id, req.tenant, DEFAULT_LANE.run)).id as string;
    reply.header('location', `/jobs/${id}`);
    const feed = await events.open(id, req.tenant, undefined);
    return { id, sent: Boolean(feed && !feed.done && (await streams.send(req, reply, feed.messages, seat))) };
  } finally {
    seat.release();
  }
}
