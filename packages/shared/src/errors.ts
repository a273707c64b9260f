/**
 * Stable error codes of the HTTP API. Clients branch on `code`, never on `message`.
 * The HTTP status each one travels with is fixed here too.
 */
export const API_ERRORS = {
  bad_request: 400,
  invalid_json: 400,
  validation_failed: 400,
  limit_exceeded: 400,
  policy_not_allowed: 400,
  environment_not_available: 400,
  lane_not_allowed: 400,
  webhooks_not_configured: 400,
  unauthorized: 401,
  not_found: 404,
  idempotency_conflict: 409,
  job_finished: 409,
  not_interactive: 409,
  stdin_gap: 409,
  stdin_closed: 409,
  method_not_allowed: 405,
  request_timeout: 408,
  rate_limited: 429,
  tenant_queue_full: 429,
  storage_quota: 429,
  too_many_viewers: 429,
  code_too_large: 413,
  stdin_too_large: 413,
  payload_too_large: 413,
  unsupported_media_type: 415,
  expectation_failed: 417,
  headers_too_large: 431,
  queue_full: 503,
  queue_unavailable: 503,
  not_replicated: 503,
  storage_full: 503,
  internal: 500,
} as const;
export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly details?: unknown,
    /** Sent as the Retry-After header: when trying again can succeed. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ApiError';
    this.statusCode = API_ERRORS[code];
  }
}
