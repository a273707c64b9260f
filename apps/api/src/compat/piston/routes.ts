import type { FastifyPluginAsync } from 'fastify';
import type { JobInput } from '../../services/job-input.js';
import { connectSession } from './connect.js';
import type { PistonExecutor } from './executor.js';

export interface PistonRoutesOptions {
  piston: PistonExecutor;
  input: JobInput;
}

/**
 * Piston v2's routes, registered once under /api/v2 and once under /api/v2/piston (the public
 * service's path, which clients use when pointed at it). Bodies are checked by hand, in Piston's
 * order and with its texts (request.ts), not by a schema.
 */
export const pistonRoutes: FastifyPluginAsync<PistonRoutesOptions> = async (app, { piston, input }) => {
  app.get(
    '/runtimes',
    { schema: { summary: 'Piston v2: the runtimes this caller may use', tags: ['piston'] } },
    async (req) =>
      (await piston.runtimes(req.tenant)).map(({ language, version, aliases }) => ({ language, version, aliases })),
  );

  app.post(
    '/execute',
    { schema: { summary: 'Piston v2: run a program and answer its result (docs/compat.md)', tags: ['piston'] } },
    async (req, reply) => {
      const job = await piston.prepare(req.body, req.tenant);
      // Before the run: a job that does not finish in time was still run with these.
      if (job.clamped.length > 0) reply.header('x-sbx-clamped', job.clamped.join(', '));
      const { id, result, answer } = await piston.execute(job, req.id, req.tenant);
      // Our own verdict and job, which Piston's shape has no room for.
      reply.header('x-sbx-status', result.status).header('x-sbx-job-id', id);
      return answer;
    },
  );

  app.get('/connect', { websocket: true, schema: { hide: true } }, (socket, req) =>
    connectSession(socket, req, { piston, input }),
  );
};
