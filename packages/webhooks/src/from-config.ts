import { loadTenants, redisConnectionOptions, type SharedConfig, tenantWebhookSecrets } from '@sbx/shared';
import type { WebhookLogger } from './logger.js';
import { createWebhookService, type WebhookService, type WebhookServiceOptions } from './webhook-service.js';

/** The deliveries queue sits beside the runs queue, under the same prefix. */
export const webhookQueueName = (config: Pick<SharedConfig, 'queueName'>) => `${config.queueName}-webhooks`;

/** The service as both apps configure it; null when no signing secret is set (webhooks off). */
export function webhookServiceFromConfig(
  config: SharedConfig,
  log: WebhookLogger,
  extra: Pick<WebhookServiceOptions, 'deliver'> = {},
): WebhookService | null {
  if (!config.webhookSecret) return null;
  const secrets = tenantWebhookSecrets(loadTenants(config));
  return createWebhookService({
    connection: redisConnectionOptions(config),
    prefix: config.prefix,
    queueName: webhookQueueName(config),
    secret: config.webhookSecret,
    // Each tenant's webhooks are signed with its own secret when it has one.
    secretFor: (tenantId) => secrets.get(tenantId),
    allowlist: config.webhookAllowlist,
    maxAttempts: config.webhookMaxAttempts,
    baseDelayMs: config.webhookBaseDelayMs,
    maxDelayMs: config.webhookMaxDelayMs,
    timeoutMs: config.webhookTimeoutMs,
    log,
    ...extra,
  });
}
