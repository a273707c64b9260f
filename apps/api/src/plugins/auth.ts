import {
  type ApiConfig,
  ApiError,
  anonymousTenant,
  ConfigError,
  hashApiKey,
  isLoopbackHost,
  loadTenants,
  type Tenant,
} from '@sbx/shared';
import fp from 'fastify-plugin';
import { type EventTokens, eventsTokenOf } from '../services/event-tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling; set for every non-public route. */
    tenant: Tenant;
  }
}

/**
 * Paths anyone may read: probes, the API description, and the playground page and its assets (they
 * hold no data; the page's own API calls carry the key the person types).
 */
export const PUBLIC_PATHS = [
  /^\/healthz$/,
  /^\/readyz$/,
  /^\/docs(\/|$)/,
  /^\/(playground\/?)?$/,
  /^\/playground\/assets\/[^/]+$/,
];
export const isPublic = (url: string) => PUBLIC_PATHS.some((p) => p.test(url.split('?')[0] ?? ''));

/** A browser's CORS preflight never carries credentials: answered (or refused) by CORS, not by a key. */
const isPreflight = (req: { method: string; headers: Record<string, unknown> }) =>
  req.method === 'OPTIONS' && typeof req.headers['access-control-request-method'] === 'string';

/**
 * Bearer keys identify tenants. Keys are looked up by their SHA-256, so the server never holds a key
 * and comparing hashes leaks nothing useful. No keys configured: every caller is the anonymous tenant,
 * and server.ts binds to loopback only.
 */
export default fp<{ config: ApiConfig; tokens: EventTokens }>(
  async (app, { config, tokens }) => {
    const tenants = loadTenants(config);
    const anonymous = anonymousTenant(config);
    app.decorateRequest('tenant', null as unknown as Tenant);
    if (tenants.size === 0) {
      // Config let a non-loopback address through because a tenants file was named: it holds none.
      if (!isLoopbackHost(config.apiHost))
        throw new ConfigError(
          `SBX_API_HOST=${config.apiHost} would expose an API without authentication: SBX_TENANTS_FILE has no tenant`,
        );
      app.log.warn('no API keys configured: authentication is OFF; listening on loopback only');
      app.addHook('onRequest', async (req) => {
        req.tenant = anonymous;
      });
      return;
    }
    const byId = new Map([...tenants.values()].map((t) => [t.id, t]));
    app.addHook('onRequest', async (req) => {
      if (isPublic(req.url) || isPreflight(req)) return;
      const header = req.headers.authorization ?? '';
      // An events_url carries its own grant, for EventSource, which cannot send a header.
      const presented = header ? null : eventsTokenOf(req.url);
      if (presented) {
        const grant = await tokens.verify(presented.token, presented.jobId);
        const tenant = grant ? byId.get(grant.tenantId) : undefined;
        if (!tenant) throw new ApiError('unauthorized', 'the events token is not valid, or has expired');
        req.tenant = tenant;
        return;
      }
      // Judge0's clients send their key as X-Auth-Token: the same keys, the same tenants.
      const judge0Key = req.headers['x-auth-token'];
      const key = header
        ? /^Bearer\s+(\S+)$/i.exec(header)?.[1]
        : typeof judge0Key === 'string'
          ? judge0Key
          : undefined;
      const tenant = key ? tenants.get(hashApiKey(key)) : undefined;
      if (!tenant)
        throw new ApiError(
          'unauthorized',
          header || key ? 'the API key is not valid' : 'missing Authorization: Bearer <key> header',
        );
      req.tenant = tenant;
    });
  },
  { name: 'auth' },
);
