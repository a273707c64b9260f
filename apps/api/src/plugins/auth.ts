import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiError } from '@sbx/shared';
import fp from 'fastify-plugin';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Paths anyone may read: probes and the API description. */
const PUBLIC = [/^\/healthz$/, /^\/readyz$/, /^\/docs(\/|$)/];

/** Bearer keys from the environment. No keys: auth is off (and server.ts binds to loopback only). */
export default fp<{ keys: string[] }>(
  async (app, { keys }) => {
    if (keys.length === 0) {
      app.log.warn('SBX_API_KEYS is empty: authentication is OFF; listening on loopback only');
      return;
    }
    const allowed = keys.map(digest);
    app.addHook('onRequest', async (req) => {
      const path = req.url.split('?')[0] ?? '';
      if (PUBLIC.some((p) => p.test(path))) return;
      const header = req.headers.authorization ?? '';
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      const given = match?.[1] ? digest(match[1]) : null;
      // Compare against every key without an early exit: timing tells nothing about which one matched.
      const ok = given !== null && allowed.reduce((hit, key) => timingSafeEqual(key, given) || hit, false);
      if (!ok)
        throw new ApiError(
          'unauthorized',
          header ? 'the API key is not valid' : 'missing Authorization: Bearer <key> header',
        );
    });
  },
  { name: 'auth' },
);
