import { loadWorkerConfig, serveMetrics } from '@sbx/shared';
import { pino } from 'pino';
import { createWorkerService } from './worker-service.js';

const config = loadWorkerConfig();
const log = pino({ level: config.logLevel, base: { svc: 'worker', worker: config.workerId } });
const service = createWorkerService(config, log);

// Last resort, for a failure nothing else handled: log it and exit non-zero so the supervisor
// (npm run up's, compose's restart policy) starts a fresh worker. Its jobs' locks lapse and another
// worker retakes them; staying up in an unknown state could hang them instead.
for (const event of ['unhandledRejection', 'uncaughtException'] as const)
  process.on(event, (err: unknown) => {
    log.fatal({ err, event }, 'unhandled failure: exiting for the supervisor to restart the worker');
    process.exit(70);
  });

await service.start();
const metricsServer =
  config.metricsPort > 0 ? await serveMetrics(service.metrics.registry, config.metricsPort, config.metricsHost) : null;

let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal: sig }, 'shutting down: no new jobs, finishing in-flight ones');
    service
      .stop()
      .then(() => {
        metricsServer?.close();
        log.info('worker stopped');
        process.exit(0);
      })
      .catch((err) => {
        log.error({ err }, 'unclean shutdown');
        process.exit(1);
      });
  });
}
