import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ErrorBody } from '@sbx/shared';
import { errorBody } from '../plugins/errors.js';

/**
 * What Node's HTTP parser refuses never reaches Fastify's error handler: Fastify writes its own body to the
 * socket, without a code. These are the same answers in our shape. ECONNRESET and dead sockets get nothing,
 * as there is nobody left to read it.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) {
    const payload = socketErrorBody(err.code);
    const text = JSON.stringify(payload);
    socket.write(
      `HTTP/1.1 ${payload.statusCode} ${STATUS_CODES[payload.statusCode]}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\n` +
        `Connection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy(err);
}

/** The answer for one of Node's parser errors (its `code`, e.g. HPE_INVALID_METHOD). */
export function socketErrorBody(code: string | undefined): ErrorBody {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return errorBody('headers_too_large', 'the request line and headers are larger than this server accepts');
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return errorBody(
        'payload_too_large',
        'the chunk extensions of the request body are larger than this server accepts',
      );
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return errorBody('request_timeout', 'the request did not arrive in time');
    default:
      return errorBody('bad_request', 'the request is not well-formed HTTP/1.1');
  }
}

/**
 * Node answers an `Expect` it does not know with a bare 417 unless someone listens for it. Only
 * `100-continue` is understood (Node answers that itself); anything else is refused here, in our shape.
 */
export function answerExpectation(_req: IncomingMessage, res: ServerResponse): void {
  const payload = errorBody('expectation_failed', 'only "Expect: 100-continue" is supported');
  const text = JSON.stringify(payload);
  res.writeHead(payload.statusCode, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    connection: 'close',
  });
  res.end(text);
}
