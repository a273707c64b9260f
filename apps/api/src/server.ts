import { loadConfig } from '@sbx/shared';
import { buildApp } from './app.js';

const config = loadConfig();
const app = await buildApp(config);
await app.listen({ host: config.apiHost, port: config.apiPort });

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    app.log.info({ signal: sig }, 'shutting down');
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
