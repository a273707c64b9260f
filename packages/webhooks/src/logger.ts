/** The part of a pino logger the service uses; Fastify's request-free logger fits too. */
export interface WebhookLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): WebhookLogger;
}
