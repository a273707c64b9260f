import { loadConfig, serveMetrics } from '@sbx/shared';
import { pino } from 'pino';
import { createWorkerService } from './worker-service.js';

const config = loadConfig();
const log = pino({ level: config.logLevel, base: { svc: 'worker', worker: config.workerId } });
const service = createWorkerService(config, log);

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
