import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ApiError, ErrorBodySchema, JobIdParamsSchema } from '@sbx/shared';
import { Type } from '@sinclair/typebox';
import type { EventStreams } from '../http/event-streams.js';
import type { JobEvents } from '../services/job-events.js';

export const jobEventsRoutes: FastifyPluginAsyncTypebox<{ events: JobEvents; streams: EventStreams }> = async (
  app,
  { events, streams },
) => {
  app.get(
    '/jobs/:id/events',
    {
      // 'manual': no Accept negotiation (the route only streams), and headers wait for the first
      // event, so a 404 before it is our usual JSON error.
      sse: 'manual',
      schema: {
        summary: "A job's live events, as Server-Sent Events",
        description:
          '`status` (queued with its place, then running), `stdout` and `stderr` chunks as the program writes them, `truncated` at the output cap, `run` when a fault of ours started the job again (clear what was shown), and a final `result`: the same JSON as `GET /jobs/:id`. Each event but a queued status has an `id`: reconnect with `Last-Event-ID` (or `?last_event_id=`) to resume after it. A finished job gets its events from its stream, or rebuilt from its result; a viewer that already has the result gets `204`.',
        params: JobIdParamsSchema,
        querystring: Type.Object(
          {
            last_event_id: Type.Optional(Type.String({ maxLength: 64 })),
            // Checked by the auth plugin (an events_url); listed so it is not an unknown field.
            token: Type.Optional(Type.String({ maxLength: 1024 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Unsafe<string>({ type: 'string', description: 'text/event-stream' }),
          204: Type.Null({ description: 'The viewer has every event, the result included.' }),
          401: ErrorBodySchema,
          404: ErrorBodySchema,
          429: ErrorBodySchema,
        },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const header = req.headers['last-event-id'];
      const lastEventId = (typeof header === 'string' ? header : undefined) ?? req.query.last_event_id;
      const seat = streams.reserve(req.tenant.id);
      try {
        const feed = await events.open(id, req.tenant, lastEventId);
        if (!feed) throw new ApiError('not_found', `no job ${id} (unknown, or its result has expired)`);
        // EventSource reconnects whenever a stream ends; 204 is what stops it. Nothing sent (the job
        // went while the viewer waited) ends the same way.
        if (feed.done || !(await streams.send(req, reply, feed.messages, seat))) return reply.code(204).send(null);
      } finally {
        seat.release();
      }
    },
  );
};
