import { loadConfig, serveMetrics } from '@sbx/shared';
import { buildApp } from './app.js';

const config = loadConfig();
const app = await buildApp(config);
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
