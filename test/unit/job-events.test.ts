import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  compareEventIds,
  decodeJobEvent,
  EVENT_FIELDS,
  encodeJobEvent,
  type JobEvent,
  jobEventsKey,
  nextEventId,
  parseEventId,
  redisKeys,
} from '@sbx/shared';

test("a job's event stream has one key, the same wherever it is asked for", () => {
  const id = '0b8f3c1e-2f1a-4c3b-9d4e-5f6a7b8c9d0e';
  assert.equal(jobEventsKey('sbx', id), `sbx:events:${id}`);
  assert.equal(redisKeys('sbx').events(id), jobEventsKey('sbx', id));
});

test('an event survives the trip through a stream entry', () => {
  const events: JobEvent[] = [
    { type: 'status', data: { state: 'running', attempt: 2 } },
    { type: 'stdout', data: { text: 'héllo\n' } },
    { type: 'stderr', data: { base64: 'AAEC', test: 3 } },
    { type: 'truncated', data: { limit_bytes: 1024 } },
    { type: 'run', data: { attempt: 2 } },
    { type: 'result', data: {} },
  ];
  for (const event of events) {
    const [type, data] = encodeJobEvent(event);
    const decoded = decodeJobEvent('1-0', [EVENT_FIELDS.type, type, EVENT_FIELDS.data, data]);
    assert.deepEqual(decoded, { id: '1-0', ...event });
  }
});

test('an entry this reader does not know is skipped, never thrown at a viewer', () => {
  const { type: t, data: d } = EVENT_FIELDS;
  assert.equal(decodeJobEvent('1-0', [t, 'future-kind', d, '{}']), null);
  assert.equal(decodeJobEvent('1-0', [t, 'stdout', d, 'not json']), null);
  assert.equal(decodeJobEvent('1-0', [t, 'stdout', d, '"a string"']), null);
  assert.equal(decodeJobEvent('1-0', [t, 'stdout']), null);
  assert.equal(decodeJobEvent('1-0', []), null);
});

test('Last-Event-ID: a stream id is read back, anything else means from the start', () => {
  assert.deepEqual(parseEventId('1718000000000-3'), { ms: 1718000000000n, seq: 3n });
  assert.deepEqual(parseEventId(' 0-1 '), { ms: 0n, seq: 1n });
  for (const bad of [undefined, null, '', '0', '-1', '1-', 'a-b', '1-2-3', '$', '>'])
    assert.equal(parseEventId(bad), null, String(bad));
});

test('stream ids order by millisecond, then sequence, past what a double holds', () => {
  assert.ok(compareEventIds('0-1', '0-2') < 0);
  assert.ok(compareEventIds('2-0', '10-0') < 0, 'numerically, not as text');
  assert.ok(compareEventIds('18446744073709551615-1', '18446744073709551615-0') > 0);
  assert.equal(compareEventIds('5-5', '5-5'), 0);
  assert.equal(nextEventId('1718000000000-9'), '1718000000000-10');
  assert.throws(() => compareEventIds('x', '0-1'));
});
