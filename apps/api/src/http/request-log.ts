import type { FastifyRequest } from 'fastify';
import { redactToken } from '../services/event-tokens.js';

/** Fastify's own request serializer, with an `events_url` token hidden: a URL in a log is not a credential. */
export function requestForLog(req: FastifyRequest) {
  return {
    method: req.method,
    url: redactToken(req.url),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}
