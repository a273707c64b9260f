import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  ApiError,
  ErrorBodySchema,
  JobIdParamsSchema,
  JobInputAcceptedSchema,
  JobInputRequestSchema,
} from '@sbx/shared';
import type { JobInput } from '../services/job-input.js';

export const jobInputRoutes: FastifyPluginAsyncTypebox<{ input: JobInput; maxCallBytes: number }> = async (
  app,
  { input, maxCallBytes },
) => {
  app.post(
    '/jobs/:id/stdin',
    {
      // JSON escapes can make each byte of data six: room for that, and not a byte more is parsed.
      bodyLimit: 6 * maxCallBytes + 1024,
      schema: {
        summary: "More input for an interactive job's stdin, or its end",
        description:
          '`{ "data", "offset" }` appends `data` (UTF-8) to what the program reads; `{ "eof": true, "offset" }` closes its stdin. `offset` is the UTF-8 bytes the caller had sent before this call, after the body\'s `stdin` (0 on the first): a call repeating input already accepted appends nothing and answers the current offset, so any call may be retried. Answers `{ offset, eof }`: what is accepted so far. 409 `stdin_gap` (offset past what was accepted: `details.offset` says where to resume), `not_interactive`, `job_finished`, `stdin_closed`; 413 past the per-call or per-job cap (GET /info, limits.interactive).',
        params: JobIdParamsSchema,
        body: JobInputRequestSchema,
        response: {
          200: JobInputAcceptedSchema,
          400: ErrorBodySchema,
          401: ErrorBodySchema,
          404: ErrorBodySchema,
          409: ErrorBodySchema,
          413: ErrorBodySchema,
          503: ErrorBodySchema,
        },
      },
    },
    async (req) => {
      const { id } = req.params;
      const accepted = await input.send(id, req.tenant, req.body);
      if (!accepted) throw new ApiError('not_found', `no job ${id} (unknown, or its result has expired)`);
      return accepted;
    },
  );
};
