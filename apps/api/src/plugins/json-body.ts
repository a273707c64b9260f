import { ApiError } from '@sbx/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

type ParseDone = (err: Error | null, body?: unknown) => void;

/**
 * A body parser that reads JSON as bytes and decodes them strictly as UTF-8, then hands the text to
 * Fastify's own JSON parser (empty bodies, syntax errors, prototype poisoning). For application/json
 * here, and for the compat routes that take JSON under another content type (compat/piston).
 */
export function strictJsonParser(app: FastifyInstance): (req: FastifyRequest, raw: Buffer, done: ParseDone) => void {
  const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const { onProtoPoisoning = 'error', onConstructorPoisoning = 'error' } = app.initialConfig;
  const parse = app.getDefaultJsonParser(onProtoPoisoning, onConstructorPoisoning);
  return (req, raw, done) => {
    let text: string;
    try {
      text = utf8.decode(raw);
    } catch {
      done(new ApiError('invalid_json', 'the request body is not valid UTF-8; send JSON encoded as UTF-8'), undefined);
      return;
    }
    parse(req, text, done);
  };
}

/**
 * application/json bodies must be UTF-8 (RFC 8259). Fastify decodes leniently, turning bad bytes into
 * U+FFFD, so a program would run with code its author never sent: strictJsonParser instead, with the
 * body limit still applied while the bytes are read.
 */
export default fp(
  async (app: FastifyInstance) => {
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, strictJsonParser(app));
  },
  { name: 'json-body' },
);
