import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError } from '@sbx/shared';
import { type InputCall, type InputState, inputCall, planInput } from '../../apps/api/src/services/input-plan.js';

const CAPS = { maxBytes: 20, maxCalls: 5 };
const OPEN: InputState = { finished: false, interactive: true, accepted: 0, eof: false, calls: 0 };
const data = (offset: number, text: string) => ({ offset, data: Buffer.from(text) });
const eof = (offset: number) => ({ offset, eof: true as const });

/** A run of calls applied to a state as the service does: what each answered, and the bytes kept. */
function replay(calls: Parameters<typeof planInput>[1][], state: InputState = OPEN) {
  let kept = Buffer.alloc(0);
  const answers: (string | { offset: number; eof: boolean })[] = [];
  for (const call of calls) {
    const plan = planInput(state, call, CAPS);
    if (plan.kind === 'refuse') {
      answers.push(plan.error.code);
      continue;
    }
    if (plan.kind === 'append') {
      kept = Buffer.concat([kept, plan.data]);
      state = { ...state, accepted: plan.accepted, calls: state.calls + 1 };
    } else if (plan.kind === 'close') state = { ...state, eof: true };
    answers.push({ offset: state.accepted, eof: state.eof });
  }
  return { answers, kept: kept.toString(), state };
}

test('input is appended in order; each call answers the bytes accepted so far', () => {
  const { answers, kept } = replay([data(0, 'ab'), data(2, 'cd\n'), eof(5)]);
  assert.deepEqual(answers, [
    { offset: 2, eof: false },
    { offset: 5, eof: false },
    { offset: 5, eof: true },
  ]);
  assert.equal(kept, 'abcd\n');
});

test('a repeated call appends nothing and answers the current offset, even after eof', () => {
  const { answers, kept } = replay([data(0, 'ab'), data(0, 'ab'), data(2, 'c'), data(0, 'a'), eof(3), eof(3)]);
  assert.deepEqual(answers, [
    { offset: 2, eof: false },
    { offset: 2, eof: false },
    { offset: 3, eof: false },
    { offset: 3, eof: false },
    { offset: 3, eof: true },
    { offset: 3, eof: true },
  ]);
  assert.equal(kept, 'abc');
  assert.deepEqual(replay([data(0, 'ab'), eof(2), data(0, 'ab')]).answers.at(-1), { offset: 2, eof: true });
});

test('a call overlapping what was accepted appends only its new bytes', () => {
  const { answers, kept } = replay([data(0, 'abc'), data(1, 'bcdé')]);
  assert.deepEqual(answers.at(-1), { offset: 6, eof: false });
  assert.equal(kept, 'abcdé');
});

test('an offset past what was accepted is a gap, which says where to resume', () => {
  const plan = planInput({ ...OPEN, accepted: 3 }, data(5, 'x'), CAPS);
  assert.equal(plan.kind, 'refuse');
  const error = (plan as { error: ApiError }).error;
  assert.equal(error.code, 'stdin_gap');
  assert.equal(error.statusCode, 409);
  assert.deepEqual(error.details, { offset: 3 });
  assert.equal(replay([eof(1)]).answers[0], 'stdin_gap', 'an eof past the end too');
});

test('after eof new bytes are refused; a finished or plain job takes nothing, finished first', () => {
  assert.deepEqual(replay([eof(0), data(0, 'x')]).answers, [{ offset: 0, eof: true }, 'stdin_closed']);
  const code = (state: InputState, call: InputCall = data(0, 'x')) => {
    const plan = planInput(state, call, CAPS);
    return plan.kind === 'refuse' ? plan.error.code : plan.kind;
  };
  assert.equal(code({ ...OPEN, finished: true }), 'job_finished');
  assert.equal(code({ ...OPEN, finished: true, interactive: false }), 'job_finished');
  assert.equal(code({ ...OPEN, interactive: false }), 'not_interactive');
  assert.equal(code({ ...OPEN, interactive: false }, eof(0)), 'not_interactive');
  for (const refused of ['job_finished', 'not_interactive', 'stdin_closed', 'stdin_gap'] as const)
    assert.equal(new ApiError(refused, '').statusCode, 409, refused);
});

test('the per-job cap counts bytes after the body stdin; the call cap bounds the stream', () => {
  const { answers, kept } = replay([data(0, 'x'.repeat(15)), data(15, 'y'.repeat(6)), data(15, 'y'.repeat(5))]);
  assert.deepEqual(answers, [{ offset: 15, eof: false }, 'payload_too_large', { offset: 20, eof: false }]);
  assert.equal(kept.length, 20, 'exactly at the cap passes');
  const calls = replay(['a', 'b', 'c', 'd', 'e', 'f'].map((c, i) => data(i, c)));
  assert.deepEqual(calls.answers.at(-1), 'payload_too_large');
  assert.equal(calls.kept, 'abcde');
  assert.deepEqual(replay([data(0, 'abcde')], calls.state).answers, [{ offset: 5, eof: false }], 'repeats still pass');
});

test('a body is data or eof, never both nor neither, and data is capped per call in UTF-8 bytes', () => {
  const refusal = (body: Parameters<typeof inputCall>[0]) => {
    try {
      inputCall(body, 4);
    } catch (err) {
      return (err as ApiError).code;
    }
    return 'accepted';
  };
  assert.equal(refusal({ offset: 0 }), 'validation_failed');
  assert.equal(refusal({ offset: 0, data: 'a', eof: true }), 'validation_failed');
  assert.equal(refusal({ offset: 0, data: 'abcd' }), 'accepted');
  assert.equal(refusal({ offset: 0, data: 'abé' }), 'accepted', '4 bytes');
  assert.equal(refusal({ offset: 0, data: 'abcé' }), 'payload_too_large', '5 bytes');
  assert.deepEqual(inputCall({ offset: 0, data: '\ud800' }, 4), { offset: 0, data: Buffer.from('\ufffd') }, 'U+FFFD');
  assert.deepEqual(inputCall({ offset: 7, eof: true }, 4), { offset: 7, eof: true });
});
