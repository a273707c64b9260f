import { ApiError } from '@sbx/shared';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * application/json bodies must be UTF-8 (RFC 8259). Fastify decodes leniently, turning bad bytes into
 * U+FFFD, so a program would run with code its author never sent. The body is read as bytes and decoded
 * strictly; everything after that (empty bodies, syntax errors, prototype poisoning) is Fastify's own
 * parser, and the body limit is still applied while the bytes are read.
 */
export default fp(
  async (app: FastifyInstance) => {
    const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    const { onProtoPoisoning = 'error', onConstructorPoisoning = 'error' } = app.initialConfig;
    const parse = app.getDefaultJsonParser(onProtoPoisoning, onConstructorPoisoning);
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, raw: Buffer, done) => {
      let text: string;
      try {
        text = utf8.decode(raw);
      } catch {
        done(
          new ApiError('invalid_json', 'the request body is not valid UTF-8; send JSON encoded as UTF-8'),
          undefined,
        );
        return;
      }
      parse(req, text, done);
    });
  },
  { name: 'json-body' },
);
