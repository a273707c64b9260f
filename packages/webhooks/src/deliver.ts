import type { LookupAddress, LookupOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { parseRetryAfter } from './retry-policy.js';

/** One HTTP POST (or PUT, for a delivery shaped so) of a webhook to an address the guard already checked; never throws. */

export const DEFAULT_TIMEOUT_MS = 10_000;

export type WebhookMethod = 'POST' | 'PUT';
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;

export interface DeliveryRequest {
  url: URL;
  /** The checked address: the connection goes here, whatever DNS says now. */
  address: string;
  family: 4 | 6;
  body: string | Uint8Array;
  /** POST unless the delivery was enqueued with another method (Judge0's callbacks are PUTs). */
  method?: WebhookMethod;
  /** Signature headers and the like; content-type, content-length, host and user-agent are set here. */
  headers: Record<string, string>;
  /** Bound on the whole exchange, connect to last byte read. Default 10 s. */
  timeoutMs?: number;
  /** Response bytes read before we stop listening. Default 64 KiB. */
  maxResponseBytes?: number;
}

/** What a failed attempt's error starts with (`<kind>: <detail>`). */
export const DELIVERY_FAILURE_KINDS = ['http_status', 'redirect', 'timeout', 'connection'] as const;
/** An attempt's result in one word, as metrics label it: delivered, or its failure kind. */
export const DELIVERY_RESULTS = ['delivered', ...DELIVERY_FAILURE_KINDS] as const;

export interface DeliveryOutcome {
  /** A 2xx arrived. */
  ok: boolean;
  /** HTTP status, or null when none arrived (refused, reset, timed out before headers). */
  status: number | null;
  /** From Retry-After on a 429 or 503 only. */
  retryAfterMs: number | null;
  /** `<kind>: <detail>` with kind one of DELIVERY_FAILURE_KINDS; null when ok. */
  error: string | null;
  durationMs: number;
  /** Response body bytes read (at most maxResponseBytes). */
  responseBytes: number;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` that answers every query with the checked address. Keeping the URL's hostname as the
 * request host (rather than putting the IP in the URL) leaves the Host header and TLS SNI and
 * certificate check on the real name, while the socket can only go where the guard looked.
 * Node asks with `all: true` when it races address families, so both callback shapes are served.
 */
function pinnedLookup(address: string, family: 4 | 6) {
  return (_host: string, options: LookupOptions, callback: LookupCallback) => {
    if (options.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  };
}

export function deliverOnce(req: DeliveryRequest): Promise<DeliveryOutcome> {
  const timeoutMs = req.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxResponseBytes = req.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const started = performance.now();
  const body = typeof req.body === 'string' ? Buffer.from(req.body) : req.body;

  return new Promise<DeliveryOutcome>((resolve) => {
    const heard: ResponseHeard = { status: null, retryAfterMs: null, responseBytes: 0 };
    let settled = false;
    let request: http.ClientRequest | undefined;
    let timer: NodeJS.Timeout | undefined;

    const finish = (error: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // Once we have what we need, drop the socket: no keep-alive, no reading what we did not ask for.
      request?.destroy();
      resolve(outcome(heard, error, Math.round(performance.now() - started)));
    };

    try {
      request = openRequest(req, body.byteLength);
    } catch (err) {
      // e.g. a header value Node refuses: report it like any failed attempt rather than throw.
      finish(`connection: ${(err as Error).message}`);
      return;
    }
    // One clock for connect, send and read: a receiver that trickles bytes still ends on time.
    timer = setTimeout(() => finish(`timeout: no complete answer within ${timeoutMs} ms`), timeoutMs);
    request.on('response', (res) => readResponse(res, heard, maxResponseBytes, finish));
    request.on('error', (err: NodeJS.ErrnoException) => finish(`connection: ${err.code ?? err.message}`));
    request.end(body);
  });
}

/** What the receiver has told us so far. */
interface ResponseHeard {
  status: number | null;
  retryAfterMs: number | null;
  responseBytes: number;
}

function openRequest(req: DeliveryRequest, contentLength: number): http.ClientRequest {
  const transport = req.url.protocol === 'https:' ? https : http;
  return transport.request({
    method: req.method ?? 'POST',
    protocol: req.url.protocol,
    hostname: req.url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: req.url.port || undefined,
    path: `${req.url.pathname}${req.url.search}`,
    lookup: pinnedLookup(req.address, req.family),
    family: req.family,
    // A private agent per request: a pooled socket could have been opened to another address.
    agent: false,
    headers: {
      ...req.headers,
      host: req.url.host,
      'content-type': 'application/json',
      'content-length': String(contentLength),
      'user-agent': 'sbx-webhooks/1',
    },
  });
}

/** Notes the status and Retry-After, then counts body bytes until the end or the cap. */
function readResponse(
  res: http.IncomingMessage,
  heard: ResponseHeard,
  maxResponseBytes: number,
  finish: (error: string | null) => void,
): void {
  heard.status = res.statusCode ?? null;
  if (heard.status === 429 || heard.status === 503) {
    const header = res.headers['retry-after'];
    heard.retryAfterMs = parseRetryAfter(Array.isArray(header) ? header[0] : header);
  }
  // node:http never follows redirects itself; a 3xx is reported as a failure in outcome().
  res.on('data', (chunk: Buffer) => {
    heard.responseBytes += chunk.length;
    if (heard.responseBytes >= maxResponseBytes) {
      heard.responseBytes = Math.min(heard.responseBytes, maxResponseBytes);
      finish(null);
    }
  });
  res.on('end', () => finish(null));
  res.on('error', (err) => finish(`connection: ${err.message}`));
}

function outcome(heard: ResponseHeard, error: string | null, durationMs: number): DeliveryOutcome {
  const { status, retryAfterMs, responseBytes } = heard;
  const ok = status !== null && status >= 200 && status < 300;
  return { ok, status, retryAfterMs, error: reportedError(status, error), durationMs, responseBytes };
}

function reportedError(status: number | null, error: string | null): string | null {
  if (status === null) return error;
  // With a status in hand the receiver has answered; a stalled body afterwards does not undo it.
  if (status >= 200 && status < 300) return null;
  if (status >= 300 && status < 400) return `redirect: ${status} (redirects are not followed)`;
  return `http_status: ${status}`;
}

/** The outcome in one word: delivered, or the kind its error names (the label set stays small). */
export function deliveryResult(outcome: Pick<DeliveryOutcome, 'ok' | 'error'>): string {
  return outcome.ok ? 'delivered' : (outcome.error?.split(':')[0] ?? 'unknown');
}
