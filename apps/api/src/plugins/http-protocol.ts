import { ApiError } from '@sbx/shared';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { answerExpectation } from '../http/client-errors.js';

/**
 * Two refusals Node makes by itself, with an empty body, made here in our shape instead: an HTTP/1.1
 * request without Host (RFC 9112 requires a 400; app.ts turns Node's own check off so this one runs) and
 * an `Expect` other than 100-continue.
 */
export default fp(
  async (app: FastifyInstance) => {
    app.server.on('checkExpectation', answerExpectation);
    app.addHook('onRequest', async (req) => {
      if (req.raw.httpVersion === '1.1' && req.headers.host === undefined)
        throw new ApiError('bad_request', 'an HTTP/1.1 request needs a Host header');
    });
  },
  { name: 'http-protocol' },
);
