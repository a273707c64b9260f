import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelayMs, parseRetryAfter, retryDelayMs } from '@sbx/webhooks';

const NOW = Date.parse('2025-03-01T12:00:00Z');

test('Retry-After as delay-seconds', () => {
  assert.equal(parseRetryAfter('1', NOW), 1000);
  assert.equal(parseRetryAfter(' 120 ', NOW), 120_000);
  assert.equal(parseRetryAfter('0', NOW), 0);
});

test('Retry-After as an HTTP date, relative to now, never negative', () => {
  assert.equal(parseRetryAfter('Sat, 01 Mar 2025 12:00:30 GMT', NOW), 30_000);
  assert.equal(parseRetryAfter('Sat, 01 Mar 2025 13:00:00 GMT', NOW), 3_600_000);
  assert.equal(parseRetryAfter('Sat, 01 Mar 2025 11:00:00 GMT', NOW), 0, 'a past date means now');
});

test('absent or unreadable Retry-After is null, not a guess', () => {
  for (const value of [undefined, null, '', 'soon', '-5', '1.5', '1e3', '0x10', 'Sat, 99 Foo 2025']) {
    assert.equal(parseRetryAfter(value, NOW), null, String(value));
  }
});

const schedule = { baseDelayMs: 1000, maxDelayMs: 60_000 };

test('backoff: full jitter below an exponential ceiling that doubles per retry', () => {
  const top = () => 0.999_999;
  assert.equal(backoffDelayMs(1, schedule, top), 999);
  assert.equal(backoffDelayMs(2, schedule, top), 1999);
  assert.equal(backoffDelayMs(4, schedule, top), 7999);
  assert.equal(
    backoffDelayMs(3, schedule, () => 0),
    0,
    'full jitter goes down to zero',
  );
  assert.equal(
    backoffDelayMs(3, schedule, () => 0.5),
    2000,
  );
});

test('backoff: capped at maxDelayMs, even for huge attempt numbers', () => {
  const top = () => 0.999_999;
  assert.equal(backoffDelayMs(7, schedule, top), 59_999);
  assert.equal(backoffDelayMs(1000, schedule, top), 59_999);
  assert.ok(Number.isFinite(backoffDelayMs(1e9, schedule)));
});

test('backoff: real randomness stays within the window and varies', () => {
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const d = backoffDelayMs(3, schedule);
    assert.ok(d >= 0 && d < 4000, String(d));
    seen.add(d);
  }
  assert.ok(seen.size > 50, 'jittered delays should not collapse onto a few values');
});

test('Retry-After replaces the backoff, within the ceiling', () => {
  assert.equal(
    retryDelayMs(1, 5_000, schedule, () => 0),
    5_000,
  );
  assert.equal(
    retryDelayMs(1, 0, schedule, () => 0.9),
    0,
  );
  assert.equal(retryDelayMs(1, 10 * 3_600_000, schedule), 60_000, 'a receiver cannot park a delivery for hours');
  assert.equal(
    retryDelayMs(2, null, schedule, () => 0.5),
    1000,
    'no Retry-After: the backoff',
  );
});
