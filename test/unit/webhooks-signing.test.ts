import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { decodeWebhookSecret, generateWebhookSecret, signWebhook, verifyWebhook } from '@sbx/webhooks';

// The published Standard Webhooks vector (standard-webhooks/standard-webhooks, libraries/*/ tests):
// reproducing it is what proves a receiver's stock library accepts our signatures.
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};
const headersOf = (id: string, timestamp: number, signature: string) => ({
  'webhook-id': id,
  'webhook-timestamp': String(timestamp),
  'webhook-signature': signature,
});
const at = { nowSeconds: VECTOR.timestamp };

test('signing reproduces the Standard Webhooks reference vector', () => {
  assert.equal(signWebhook(VECTOR.secret, VECTOR.id, VECTOR.timestamp, VECTOR.body), VECTOR.signature);
  // Bytes and text sign alike, and the whsec_ prefix is optional as in the reference libraries.
  assert.equal(signWebhook(VECTOR.secret, VECTOR.id, VECTOR.timestamp, Buffer.from(VECTOR.body)), VECTOR.signature);
  assert.equal(
    signWebhook(VECTOR.secret.slice('whsec_'.length), VECTOR.id, VECTOR.timestamp, VECTOR.body),
    VECTOR.signature,
  );
});

test('the key is the base64-decoded secret, not its text', () => {
  const key = decodeWebhookSecret(VECTOR.secret);
  assert.equal(key.length, 24);
  const manual = createHmac('sha256', key).update(`${VECTOR.id}.${VECTOR.timestamp}.${VECTOR.body}`).digest('base64');
  assert.equal(`v1,${manual}`, VECTOR.signature);
});

test('the reference vector verifies, and any tampering is rejected', () => {
  const h = headersOf(VECTOR.id, VECTOR.timestamp, VECTOR.signature);
  assert.equal(verifyWebhook(VECTOR.secret, h, VECTOR.body, at), true);
  assert.equal(verifyWebhook(VECTOR.secret, h, '{"test": 2432232315}', at), false, 'body changed');
  assert.equal(verifyWebhook(VECTOR.secret, { ...h, 'webhook-id': 'msg_other' }, VECTOR.body, at), false, 'id changed');
  assert.equal(
    verifyWebhook(VECTOR.secret, { ...h, 'webhook-timestamp': String(VECTOR.timestamp + 1) }, VECTOR.body, at),
    false,
    'timestamp changed',
  );
  assert.equal(verifyWebhook(generateWebhookSecret(), h, VECTOR.body, at), false, 'other secret');
  const flipped = `v1,${VECTOR.signature.slice(3, -2)}A=`;
  assert.equal(verifyWebhook(VECTOR.secret, { ...h, 'webhook-signature': flipped }, VECTOR.body, at), false);
  assert.equal(
    verifyWebhook(
      VECTOR.secret,
      { ...h, 'webhook-signature': VECTOR.signature.replace('v1,', 'v2,') },
      VECTOR.body,
      at,
    ),
    false,
    'only v1 counts',
  );
  assert.equal(
    verifyWebhook(VECTOR.secret, { ...h, 'webhook-signature': VECTOR.signature.replace('+', '+!') }, VECTOR.body, at),
    false,
    'junk spliced into the base64 is not decoded away',
  );
  assert.equal(verifyWebhook(VECTOR.secret, { ...h, 'webhook-signature': 'v1,' }, VECTOR.body, at), false);
});

test('missing or malformed headers are rejected', () => {
  const h = headersOf(VECTOR.id, VECTOR.timestamp, VECTOR.signature);
  for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const) {
    const { [name]: _dropped, ...rest } = h;
    assert.equal(verifyWebhook(VECTOR.secret, rest, VECTOR.body, at), false, `without ${name}`);
  }
  for (const ts of ['hello', '1614265330.0', '-1614265330', '']) {
    assert.equal(verifyWebhook(VECTOR.secret, { ...h, 'webhook-timestamp': ts }, VECTOR.body, at), false, ts);
  }
});

test('timestamps outside the tolerance are rejected, both ways', () => {
  const h = headersOf(VECTOR.id, VECTOR.timestamp, VECTOR.signature);
  const verifyAt = (nowSeconds: number, toleranceSeconds?: number) =>
    verifyWebhook(VECTOR.secret, h, VECTOR.body, { nowSeconds, ...(toleranceSeconds ? { toleranceSeconds } : {}) });
  assert.equal(verifyAt(VECTOR.timestamp + 300), true, 'edge of the default 5 minutes');
  assert.equal(verifyAt(VECTOR.timestamp + 301), false, 'expired');
  assert.equal(verifyAt(VECTOR.timestamp - 301), false, 'from the future');
  assert.equal(verifyAt(VECTOR.timestamp + 1000, 1000), true, 'custom tolerance');
  // Without nowSeconds the real clock applies: a 2021 timestamp is long expired.
  assert.equal(verifyWebhook(VECTOR.secret, h, VECTOR.body), false);
});

test('a list of signatures verifies when any v1 entry matches (key rotation)', () => {
  const h = headersOf(VECTOR.id, VECTOR.timestamp, VECTOR.signature);
  const other = signWebhook(generateWebhookSecret(), VECTOR.id, VECTOR.timestamp, VECTOR.body);
  const list = `${other} v2,${VECTOR.signature.slice(3)} ${VECTOR.signature} v1,bm9wZQ==`;
  assert.equal(verifyWebhook(VECTOR.secret, { ...h, 'webhook-signature': list }, VECTOR.body, at), true);
  assert.equal(
    verifyWebhook(VECTOR.secret, { ...h, 'webhook-signature': `${other} v1,bm9wZQ==` }, VECTOR.body, at),
    false,
  );
});

test('headers are found case-insensitively, in records and in fetch Headers', () => {
  const upper = {
    'Webhook-Id': VECTOR.id,
    'WEBHOOK-TIMESTAMP': String(VECTOR.timestamp),
    'Webhook-Signature': [VECTOR.signature],
  };
  assert.equal(verifyWebhook(VECTOR.secret, upper, VECTOR.body, at), true);
  const fetchHeaders = new Headers(headersOf(VECTOR.id, VECTOR.timestamp, VECTOR.signature));
  assert.equal(verifyWebhook(VECTOR.secret, fetchHeaders, VECTOR.body, at), true);
});

test('generated secrets are whsec_ + 32 random bytes and round-trip', () => {
  const a = generateWebhookSecret();
  assert.match(a, /^whsec_[A-Za-z0-9+/]{43}=$/);
  assert.equal(decodeWebhookSecret(a).length, 32);
  assert.notEqual(a, generateWebhookSecret());
  const now = 1_700_000_000;
  const sig = signWebhook(a, 'msg_x', now, '{}');
  assert.equal(verifyWebhook(a, headersOf('msg_x', now, sig), '{}', { nowSeconds: now }), true);
});

test('secrets that are not strict base64 are refused rather than silently mis-decoded', () => {
  for (const bad of ['', 'whsec_', 'whsec_not base64!', 'whsec_abc', 'whsec_MfKQ9r8G*KYqrTwjUPD8ILPZIo2LaLaSw']) {
    assert.throws(() => signWebhook(bad, 'msg', 1, '{}'), TypeError, bad);
  }
});
