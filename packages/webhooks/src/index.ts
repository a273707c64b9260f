// The webhook delivery module's public surface, for the worker (and its tests) to import in one place.
export {
  type AddressClass,
  type Cidr,
  cidrContains,
  classifyAddress,
  type IpAddress,
  parseCidr,
  parseIp,
} from './cidr.js';
export {
  DEFAULT_MAX_RESPONSE_BYTES,
  DEFAULT_TIMEOUT_MS,
  DELIVERY_FAILURE_KINDS,
  DELIVERY_RESULTS,
  type DeliveryOutcome,
  type DeliveryRequest,
  deliverOnce,
  deliveryResult,
  type WebhookMethod,
} from './deliver.js';
export {
  type DeliveryAttempt,
  type DeliveryAttemptOptions,
  deliveryAttempt,
  type SignedDelivery,
  signatureHeaders,
} from './delivery-attempt.js';
export {
  DeliveryAttemptError,
  type DeliveryJob,
  type DeliveryJobData,
  type DeliveryJobResult,
  DeliveryProcessor,
  type DeliveryProcessorContext,
  type FailedDeliveryJob,
} from './delivery-processor.js';
export {
  type DeliveryStateRedis,
  DeliveryStateStore,
  type NewDelivery,
  type PendingDelivery,
  parseDeliveryState,
  type WebhookDeliveryState,
  type WebhookDeliveryStatus,
} from './delivery-state.js';
export { DeliveryWorker, type DeliveryWorkerOptions, deliveryBackoff } from './delivery-worker.js';
export { webhookQueueName, webhookServiceFromConfig } from './from-config.js';
export type { WebhookLogger } from './logger.js';
export { backoffDelayMs, parseRetryAfter, type RetrySchedule, retryDelayMs } from './retry-policy.js';
export {
  decodeWebhookSecret,
  generateWebhookSecret,
  signWebhook,
  type VerifyOptions,
  verifyWebhook,
  type WebhookHeaders,
} from './signing.js';
export {
  addressRefusal,
  type HostLookup,
  parseAllowlist,
  type ResolvedAddress,
  resolveSafeTarget,
  type SafeTarget,
  type TargetGuardOptions,
  WebhookTargetError,
  type WebhookTargetErrorCode,
} from './target-guard.js';
export {
  createWebhookService,
  type WebhookService,
  type WebhookServiceOptions,
  type WebhookShape,
} from './webhook-service.js';
