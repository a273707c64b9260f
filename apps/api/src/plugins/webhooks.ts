import type { ApiConfig } from '@sbx/shared';
import { type WebhookService, webhookServiceFromConfig } from '@sbx/webhooks';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** Null when SBX_WEBHOOK_SECRET is unset: callback_url is then refused. */
    webhooks: WebhookService | null;
  }
}

/** The API only enqueues and reads delivery state; workers deliver. */
export default fp<{ config: ApiConfig }>(
  async (app, { config }) => {
    const service = webhookServiceFromConfig(config, app.log);
    app.decorate('webhooks', service);
    app.addHook('onClose', async () => {
      await service?.stop();
    });
  },
  { name: 'webhooks' },
);
