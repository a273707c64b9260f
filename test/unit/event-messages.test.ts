import assert from 'node:assert/strict';
import { test } from 'node:test';
import { internalErrorResult, type JobView, type RunResult } from '@sbx/shared';
import { closingResult, messageOf, rebuiltMessages } from '../../apps/api/src/services/event-messages.js';

const ID = '0b8f3c1e-2f1a-4c3b-9d4e-5f6a7b8c9d0e';
const receipt = {
  limits: { time_ms: 2000, memory_mb: 128 },
  policy: 'strict' as const,
  submitted_at: '',
  request_id: 'r',
};

function view(result: Partial<RunResult>): JobView {
  return { id: ID, state: 'completed', result: { ...internalErrorResult(ID, receipt, ''), status: 'ok', ...result } };
}

test('a finished job with no stream: its output, truncated if it was, then the result, numbered 0-1...', () => {
  const v = view({ stdout: 'out\n', stderr: 'err\n', stdout_truncated: true, attempts: 1 });
  assert.deepEqual(rebuiltMessages(v, null, 1024), [
    { id: '0-1', event: 'stdout', data: { text: 'out\n' } },
    { id: '0-2', event: 'stderr', data: { text: 'err\n' } },
    { id: '0-3', event: 'truncated', data: { limit_bytes: 1024 } },
    { id: '0-4', event: 'result', data: v },
  ]);
});

test('rebuilt events resume exactly: the same ids on every call, nothing at or before the last one seen', () => {
  const v = view({ stdout: 'a', stderr: 'b' });
  assert.deepEqual(
    rebuiltMessages(v, '0-1', 10).map((m) => m.id),
    ['0-2', '0-3'],
  );
  assert.deepEqual(rebuiltMessages(v, '0-3', 10), [], 'has the result: nothing more');
});

test('no output: the result alone; base64 jobs keep their encoding', () => {
  assert.deepEqual(
    rebuiltMessages(view({}), null, 10).map((m) => m.event),
    ['result'],
  );
  const b = view({ stdout: 'AAE=', output_encoding: 'base64' });
  assert.deepEqual(rebuiltMessages(b, null, 10)[0], { id: '0-1', event: 'stdout', data: { base64: 'AAE=' } });
});

test('a viewer whose stream expired while it was away is told to clear, then gets the whole output', () => {
  const v = view({ stdout: 'all of it', attempts: 2 });
  const messages = rebuiltMessages(v, '1718000000000-4', 10);
  assert.deepEqual(messages[0], { event: 'run', data: { attempt: 2 } });
  assert.deepEqual(
    messages.slice(1).map((m) => m.event),
    ['stdout', 'result'],
  );
});

test('stream entries become messages; the marker becomes the view; a closing result follows the last id', () => {
  const v = view({ stdout: 'x' });
  assert.deepEqual(messageOf({ id: '5-0', type: 'stdout', data: { text: 'x' } }, v), {
    id: '5-0',
    event: 'stdout',
    data: { text: 'x' },
  });
  assert.deepEqual(messageOf({ id: '6-0', type: 'result', data: {} }, v), { id: '6-0', event: 'result', data: v });
  assert.deepEqual(closingResult('6-9', v), { id: '6-10', event: 'result', data: v });
});
