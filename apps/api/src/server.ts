import { loadApiConfig, serveMetrics } from '@sbx/shared';
import { buildApp } from './app.js';

const config = loadApiConfig();
const app = await buildApp(config);

// Last resort, for a failure nothing else handled: log it and exit non-zero for the supervisor to
// restart the API (it is stateless: every job lives in Redis).
for (const event of ['unhandledRejection', 'uncaughtException'] as const)
  process.on(event, (err: unknown) => {
    app.log.fatal({ err, event }, 'unhandled failure: exiting for the supervisor to restart the API');
    process.exit(70);
  });
await app.listen({ host: config.apiHost, port: config.apiPort });
const metricsServer =
  config.apiMetricsPort > 0
    ? await serveMetrics(app.metrics.registry, config.apiMetricsPort, config.apiMetricsHost)
    : null;

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    app.log.info({ signal: sig }, 'shutting down');
    metricsServer?.close();
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
