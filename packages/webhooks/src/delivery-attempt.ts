import type { DeliveryOutcome, deliverOnce, WebhookMethod } from './deliver.js';
import { signWebhook } from './signing.js';
import { type HostLookup, resolveSafeTarget, type SafeTarget, WebhookTargetError } from './target-guard.js';

export interface DeliveryAttemptOptions {
  /** CIDRs allowed despite being non-public. */
  allowlist: readonly string[];
  /** Name resolution for the guard; the system resolver when absent. */
  lookup?: HostLookup | undefined;
  timeoutMs: number;
  maxResponseBytes: number;
  /** The HTTP attempt itself. */
  deliver: typeof deliverOnce;
}

/** One attempt's input: the stored target and bytes, the current webhook-id, the signer's secret. */
export interface SignedDelivery {
  url: string;
  body: string;
  webhookId: string;
  secret: string;
  /** Absent: POST. */
  method?: WebhookMethod | undefined;
}

/**
 * One signed attempt. Throws WebhookTargetError when the guard refuses the target for good; every
 * other failure, an unresolvable name included, is a failed outcome.
 */
export type DeliveryAttempt = (delivery: SignedDelivery) => Promise<DeliveryOutcome>;

/** The attempt the service makes: guard the target, sign afresh, deliver to the checked address. */
export function deliveryAttempt(opts: DeliveryAttemptOptions): DeliveryAttempt {
  return async ({ url, body, webhookId, secret, method }) => {
    const started = performance.now();
    let target: SafeTarget;
    try {
      target = await resolveSafeTarget(url, {
        allowlist: opts.allowlist,
        ...(opts.lookup ? { lookup: opts.lookup } : {}),
      });
    } catch (err) {
      if (!(err instanceof WebhookTargetError) || err.code !== 'unresolvable') throw err;
      // DNS trouble is often passing: an ordinary failed attempt, retried on schedule.
      return unresolvableOutcome(err, Math.round(performance.now() - started));
    }
    return opts.deliver({
      ...target,
      body,
      ...(method ? { method } : {}),
      timeoutMs: opts.timeoutMs,
      maxResponseBytes: opts.maxResponseBytes,
      headers: signatureHeaders(secret, webhookId, body),
    });
  };
}

/** The timestamp and signature are fresh per attempt, so receivers' replay window holds over long retries. */
export function signatureHeaders(secret: string, webhookId: string, body: string): Record<string, string> {
  const timestamp = Math.floor(Date.now() / 1000);
  return {
    'webhook-id': webhookId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signWebhook(secret, webhookId, timestamp, body),
  };
}

function unresolvableOutcome(err: WebhookTargetError, durationMs: number): DeliveryOutcome {
  return {
    ok: false,
    status: null,
    retryAfterMs: null,
    error: `unresolvable: ${err.message}`,
    durationMs,
    responseBytes: 0,
  };
}
