import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com/): HMAC-SHA256 over
 * `{id}.{timestamp}.{body}` keyed with the base64-decoded secret, sent as `v1,<base64>`.
 * Following the spec exactly is the point: receivers verify with their own Standard Webhooks or
 * Svix library, so a test against the published vector matters more than a round trip.
 */

const SECRET_PREFIX = 'whsec_';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A fresh secret: `whsec_` + base64 of 32 random bytes (the spec asks for 24 to 64). */
export function generateWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

/**
 * The HMAC key inside a secret. The `whsec_` prefix is optional, as in the reference libraries, so
 * a receiver's secret pasted either way works. Throws on anything that is not strict base64:
 * Node's decoder would otherwise skip bad characters and sign with a different key than intended.
 */
export function decodeWebhookSecret(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (encoded === '' || !BASE64.test(encoded)) throw new TypeError('webhook secret must be whsec_ followed by base64');
  return Buffer.from(encoded, 'base64');
}

function digest(key: Buffer, id: string, timestampSeconds: number, body: string | Uint8Array): Buffer {
  return createHmac('sha256', key).update(`${id}.${timestampSeconds}.`).update(body).digest();
}

/** The `webhook-signature` header value for one attempt: `v1,<base64 HMAC>`. */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string | Uint8Array): string {
  return `v1,${digest(decodeWebhookSecret(secret), id, timestampSeconds, body).toString('base64')}`;
}

/** Fetch `Headers`, or a plain record such as Node's `IncomingHttpHeaders` (looked up case-insensitively). */
export type WebhookHeaders = { get(name: string): string | null } | Record<string, string | string[] | undefined>;

function header(headers: WebhookHeaders, name: string): string | null {
  if (typeof headers.get === 'function') return (headers as { get(name: string): string | null }).get(name);
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return (Array.isArray(value) ? value[0] : value) ?? null;
}

export interface VerifyOptions {
  /** How far the timestamp may be from now, either way (replay window). Default 300 s, as the spec advises. */
  toleranceSeconds?: number;
  /** The clock, for tests. */
  nowSeconds?: number;
}

/**
 * Whether a request carries a valid signature. Boolean on purpose: a receiver only needs yes/no and
 * a reason would just help an attacker probe. False when a header is missing, the timestamp is not
 * an integer or lies outside the window, or none of the space-separated `v1,` signatures matches
 * (several are allowed so a key can be rotated without downtime; other versions are ignored).
 * `body` must be the raw bytes received, not a re-serialised parse.
 */
export function verifyWebhook(
  secret: string,
  headers: WebhookHeaders,
  body: string | Uint8Array,
  { toleranceSeconds = 300, nowSeconds = Math.floor(Date.now() / 1000) }: VerifyOptions = {},
): boolean {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures || !/^\d{1,15}$/.test(timestamp)) return false;
  const ts = Number(timestamp);
  if (Math.abs(nowSeconds - ts) > toleranceSeconds) return false;
  const expected = digest(decodeWebhookSecret(secret), id, ts, body);
  return signatures.split(' ').some((entry) => {
    const comma = entry.indexOf(',');
    const encoded = entry.slice(comma + 1);
    // Strict base64 only: the lenient decoder would accept a signature with junk spliced in.
    if (comma === -1 || entry.slice(0, comma) !== 'v1' || !BASE64.test(encoded)) return false;
    const given = Buffer.from(encoded, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
