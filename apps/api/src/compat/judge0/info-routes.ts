import { JUDGE0_STATUSES, type Tenant } from '@sbx/shared';
import type { FastifyInstance } from 'fastify';
import type { JobService } from '../../services/jobs.js';
import { countWorkerStates, type liveWorkers } from '../../services/workers.js';
import { route } from './http.js';
import { ABOUT, configInfo, type InfoConfig, JUDGE0_VERSION } from './info.js';
import { judge0Language, judge0Languages, livePythonVersion } from './languages.js';
import type { Judge0Bounds } from './limits.js';

export interface InfoRouteOptions {
  jobs: JobService;
  config: InfoConfig;
  bounds: (tenant: Tenant) => Judge0Bounds;
  callbacks: boolean;
  workers: () => ReturnType<typeof liveWorkers>;
  /** Jobs running now, fleet-wide (BullMQ's active count). */
  running: () => Promise<number>;
}

/** Judge0's read-only routes: languages, statuses, about, version, config_info, workers. */
export function infoRoutes(app: FastifyInstance, opts: InfoRouteOptions): void {
  const version = (tenant: Tenant) => livePythonVersion(opts.jobs, tenant);
  route(app, 'GET', '/languages', async (req) =>
    judge0Languages(await version(req.tenant)).map(({ id, name }) => ({ id, name })),
  );
  route(app, 'GET', '/languages/all', async (req) =>
    judge0Languages(await version(req.tenant)).map(({ id, name, is_archived }) => ({ id, name, is_archived })),
  );
  route(app, 'GET', '/languages/:id', async (req, reply) => {
    const id = Number((req.params as { id: string }).id);
    const language = Number.isInteger(id) ? judge0Language(id, await version(req.tenant)) : null;
    return language ?? reply.status(404).send({ status: 404, error: 'Not Found' });
  });
  route(app, 'GET', '/statuses', async () => JUDGE0_STATUSES);
  route(app, 'GET', '/about', async () => ABOUT);
  route(app, 'GET', '/version', async (_req, reply) => reply.type('text/plain; charset=utf-8').send(JUDGE0_VERSION));
  route(app, 'GET', '/config_info', async (req) => configInfo(opts.config, opts.bounds(req.tenant), opts.callbacks));
  route(app, 'GET', '/workers', async () => {
    const [workers, depth, running] = await Promise.all([opts.workers(), opts.jobs.depth(), opts.running()]);
    const states = countWorkerStates(workers);
    // Our workers each run several jobs: a worker counts as working for each running job, up to all of them.
    const working = Math.min(running, states.ready);
    return [
      {
        queue: JUDGE0_VERSION,
        size: depth.interactive + depth.batch,
        available: states.ready,
        idle: states.ready - working,
        working,
        paused: states.starting + states.self_check_failed + states.docker_unreachable,
        failed: 0,
      },
    ];
  });
  route(app, 'POST', '/authenticate', async (_req, reply) => reply.status(200).send(''));
  route(app, 'POST', '/authorize', async (_req, reply) => reply.status(403).send(''));
}
