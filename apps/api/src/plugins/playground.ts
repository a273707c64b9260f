import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import { ApiError } from '@sbx/shared';
import type { FastifyReply } from 'fastify';
import fp from 'fastify-plugin';

/**
 * The page and its assets may load only themselves: no inline script or style, no other origin, no
 * framing. Figures come back as data: URLs (img-src). The page calls only this API (connect-src).
 */
export const PLAYGROUND_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Paths the page answers on. Public: the page holds no data; its API calls carry the key the person types. */
export const PLAYGROUND_PAGES = ['/', '/playground'];
export const PLAYGROUND_ASSETS_PREFIX = '/playground/assets/';

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': PLAYGROUND_CSP,
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'cross-origin-opener-policy': 'same-origin',
};

const NOT_BUILT =
  'the playground is not built: run `pnpm --filter @sbx/playground build` (infra/deps.sh, so `npm run up`, builds it)';

/**
 * The browser playground at / and /playground, built by @sbx/playground into `dir` (index.html and
 * assets/). Without a build, the page is a 404 that says how to build it.
 */
export default fp<{ dir: string }>(
  async (app, { dir }) => {
    const setSecurityHeaders = (reply: FastifyReply) => reply.headers(SECURITY_HEADERS);
    // Read per request (a few KiB): a build made while the API runs is served at once, and the
    // build swaps dist/ in whole, so a page never names assets that are not there.
    const indexHtml = () => readFile(join(dir, 'index.html')).catch(() => null);

    for (const url of PLAYGROUND_PAGES)
      app.get(url, { schema: { hide: true } }, async (_req, reply) => {
        const html = await indexHtml();
        if (!html) throw new ApiError('not_found', NOT_BUILT);
        return setSecurityHeaders(reply)
          .header('cache-control', 'no-cache')
          .type('text/html; charset=utf-8')
          .send(html);
      });

    // Relative, so it holds behind a proxy that mounts the API under a prefix.
    app.get('/playground/', { schema: { hide: true } }, async (_req, reply) => reply.redirect('../playground', 301));

    await app.register(fastifyStatic, {
      root: join(dir, 'assets'),
      prefix: PLAYGROUND_ASSETS_PREFIX,
      decorateReply: false,
      index: false,
      // Content-hashed names: a file never changes under its name.
      immutable: true,
      maxAge: '365d',
      preCompressed: true,
      suppressWarning: true,
      schemaHide: true,
      setHeaders: (reply) => {
        setSecurityHeaders(reply);
      },
    });
  },
  { name: 'playground' },
);
