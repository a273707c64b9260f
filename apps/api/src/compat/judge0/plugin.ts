import type { ApiConfig, Tenant } from '@sbx/shared';
import type { FastifyPluginAsync } from 'fastify';
import type { JobService } from '../../services/jobs.js';
import { liveWorkers } from '../../services/workers.js';
import { acceptFormBodies, allowAnyOrigin, judge0ErrorHandler } from './http.js';
import { infoRoutes } from './info-routes.js';
import { judge0Bounds } from './limits.js';
import { Judge0Records } from './records.js';
import { submissionRoutes } from './submission-routes.js';
import { Judge0Submissions } from './submissions.js';

export interface Judge0PluginOptions {
  jobs: JobService;
  config: ApiConfig;
  /** False without SBX_WEBHOOK_SECRET: callback_url is then refused, as Judge0 does with callbacks off. */
  webhooksConfigured: boolean;
}

const PATHS = [
  '/submissions',
  '/submissions/batch',
  '/submissions/:token',
  '/languages',
  '/languages/all',
  '/languages/:id',
  '/statuses',
  '/about',
  '/version',
  '/config_info',
  '/workers',
  '/authenticate',
  '/authorize',
];

/**
 * Judge0 CE 1.13's API (docs/compat.md), registered under SBX_JUDGE0_PREFIX. Its submissions are our
 * jobs, through the same auth, rate limits, admission, lanes and tenants as POST /jobs and /run; only
 * the shapes are Judge0's. Encapsulated: its error handler and CORS stay on its own routes.
 */
export const judge0Plugin: FastifyPluginAsync<Judge0PluginOptions> = async (
  app,
  { jobs, config, webhooksConfigured },
) => {
  const records = new Judge0Records(app.redis, config.prefix, config.resultTtlSeconds);
  const submissions = new Judge0Submissions(jobs, records, { ...config, webhooksConfigured });
  app.setErrorHandler(judge0ErrorHandler);
  acceptFormBodies(app);
  allowAnyOrigin(app, PATHS);
  app.addHook('onResponse', async (req, reply) => {
    app.metrics.compatRequests.inc({
      api: 'judge0',
      route: `${req.method} ${req.routeOptions.url ?? 'unmatched'}`,
      status_code: reply.statusCode,
    });
  });
  infoRoutes(app, {
    jobs,
    config,
    bounds: (tenant: Tenant) => judge0Bounds(config, tenant),
    callbacks: webhooksConfigured,
    workers: () => liveWorkers(app.redis, config.prefix, config.workerStaleMs),
    running: () => app.queue.getActiveCount(),
  });
  submissionRoutes(app, { submissions, waitMs: config.runWaitMs });
};
