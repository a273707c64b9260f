import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ApiError, ErrorBodySchema, JobIdParamsSchema } from '@sbx/shared';
import { Type } from '@sinclair/typebox';
import { RECONNECT_MS } from '../services/event-messages.js';
import type { JobEvents } from '../services/job-events.js';

/** Comment lines that keep an idle stream open through proxies that cut quiet connections. */
export const HEARTBEAT_MS = 15_000;

export const jobEventsRoutes: FastifyPluginAsyncTypebox<{ events: JobEvents }> = async (app, { events }) => {
  // A stream lasts as long as its job: shutdown ends them (each viewer resumes on another replica
  // from its last id) rather than waiting for every job being watched.
  const open = new Set<AbortController>();
  app.addHook('preClose', async () => {
    for (const viewer of open) viewer.abort();
  });
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
          { last_event_id: Type.Optional(Type.String({ maxLength: 64 })) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Unsafe<string>({ type: 'string', description: 'text/event-stream' }),
          204: Type.Null({ description: 'The viewer has every event, the result included.' }),
          401: ErrorBodySchema,
          404: ErrorBodySchema,
        },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const header = req.headers['last-event-id'];
      const lastEventId = (typeof header === 'string' ? header : undefined) ?? req.query.last_event_id;
      const feed = await events.open(id, req.tenant, lastEventId);
      if (!feed) throw new ApiError('not_found', `no job ${id} (unknown, or its result has expired)`);
      // EventSource reconnects whenever a stream ends; 204 is what stops it.
      if (feed.done) return reply.code(204).send();
      // Written by the plugin with the head, which our onSend hook never sees.
      reply.header('x-request-id', req.id).header('referrer-policy', 'no-referrer');
      const left = new AbortController();
      open.add(left);
      reply.sse.onClose(() => left.abort());
      let first = true;
      try {
        for await (const message of feed.messages(left.signal)) {
          await reply.sse.send(first ? { ...message, retry: RECONNECT_MS } : message);
          first = false;
          if (!reply.sse.isConnected) break;
        }
      } catch (err) {
        // Before the first event the head is not sent: the error gets its usual reply (503 for Redis).
        if (first) throw err;
        // Mid-stream no error reply is possible: the client resumes from its last id.
        req.log.warn({ err, job: id }, 'event stream ended early');
      } finally {
        open.delete(left);
        left.abort();
      }
      // Nothing was sent (the job went while the viewer waited): the plain end of a stream.
      if (first) return reply.code(204).send();
    },
  );
};
