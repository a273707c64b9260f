import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decimalString,
  encode64,
  judge0Accepts,
  judge0CallbackBody,
  judge0Outcome,
  NotUtf8Error,
  type RunResult,
  serializeJudge0,
  signalName,
  signalNumber,
} from '@sbx/shared';
import { splitArguments } from '../../apps/api/src/compat/judge0/args.js';
import { requestedFields } from '../../apps/api/src/compat/judge0/fields.js';

const result = (over: Partial<RunResult>): RunResult => ({
  id: '6f1c2d9e-8a4b-4c3d-9e2f-1a2b3c4d5e6f',
  status: 'ok',
  stdout: '',
  stderr: '',
  exit_code: 0,
  signal: null,
  time: 0.0314,
  cpu_time: 0.02,
  memory_kb: 9000,
  stdout_truncated: false,
  stderr_truncated: false,
  limits: { time_ms: 2000, memory_mb: 128 },
  policy: 'strict',
  wall_time: 0.1,
  submitted_at: '2026-01-01T00:00:00.000Z',
  finished_at: '2026-01-01T00:00:01.000Z',
  ...over,
});
const plain: { expected_output: string | null; redirect_stderr_to_stdout: boolean } = {
  expected_output: null,
  redirect_stderr_to_stdout: false,
};
const statusOf = (r: Partial<RunResult>, input = plain) => judge0Outcome('completed', result(r), input).status.id;

test('the signal table is x86-64 Linux: both ways, 1-31', () => {
  assert.equal(signalName(11), 'SIGSEGV');
  assert.equal(signalName(25), 'SIGXFSZ');
  assert.equal(signalName(31), 'SIGSYS');
  assert.equal(signalName(0), null);
  assert.equal(signalName(32), null);
  assert.equal(signalNumber('SIGKILL'), 9);
  assert.equal(signalNumber('segv'), 11);
  assert.equal(signalNumber('SIGNOPE'), null);
  for (let n = 1; n <= 31; n++) assert.equal(signalNumber(signalName(n) ?? ''), n);
});

test("expected_output is judged as Judge0's isolate_job.rb strips: trailing whitespace per line and at the end", () => {
  const out = (s: string) => Buffer.from(s);
  assert.ok(judge0Accepts(null, out('anything')));
  assert.ok(judge0Accepts('1 2\n3', out('1 2  \n3\n\n\n')));
  assert.ok(judge0Accepts('a\r\nb', out('a\nb')), 'a \\r is trailing whitespace of its line');
  assert.ok(judge0Accepts('a\0', out('a')), 'Ruby rstrip removes NUL too');
  assert.ok(!judge0Accepts(' a', out('a')), 'leading whitespace counts');
  assert.ok(!judge0Accepts('a\n\nb', out('a\nb')), 'inner empty lines count');
  assert.ok(!judge0Accepts('a\u00a0', out('a')), 'only ASCII whitespace is stripped');
  assert.ok(!judge0Accepts('', null), 'Judge0 quirk: empty expected vs no output is a Wrong Answer');
  assert.ok(judge0Accepts('\n', out(' ')));
});

test("text as Ruby's encode64 writes it, decimals as Rails writes them", () => {
  assert.equal(encode64(Buffer.from('hello, Judge0\n')), 'aGVsbG8sIEp1ZGdlMAo=\n');
  const long = encode64(Buffer.alloc(90, 1));
  assert.deepEqual(
    long.split('\n').map((l) => l.length),
    [60, 60, 0],
  );
  assert.equal(decimalString(0.0314), '0.031');
  assert.equal(decimalString(5), '5.0');
  assert.equal(decimalString(0), '0.0');
  assert.equal(decimalString(1e-7), '0.0');
});

test('every verdict of ours maps to the Judge0 status docs/compat.md gives', () => {
  assert.equal(statusOf({ stdout: 'out\n' }, { ...plain, expected_output: 'out' }), 3);
  assert.equal(statusOf({ stdout: 'no\n' }, { ...plain, expected_output: 'out' }), 4);
  assert.equal(statusOf({ status: 'timeout', exit_code: 137, signal: 9 }), 5);
  assert.equal(statusOf({ status: 'runtime_error', exit_code: 139, signal: 11 }), 7);
  assert.equal(statusOf({ status: 'output_limit' }), 8);
  assert.equal(statusOf({ status: 'runtime_error', exit_code: 153, signal: 25 }), 8);
  assert.equal(statusOf({ status: 'runtime_error', exit_code: 136, signal: 8 }), 9);
  assert.equal(statusOf({ status: 'runtime_error', exit_code: 134, signal: 6 }), 10);
  assert.equal(statusOf({ status: 'runtime_error', exit_code: 1 }), 11);
  assert.equal(statusOf({ status: 'memory_limit', exit_code: 137, signal: 9 }), 11);
  assert.equal(statusOf({ status: 'runtime_error', exit_code: 143, signal: 15 }), 12);
  assert.equal(statusOf({ status: 'security_violation', exit_code: 1 }), 12);
  assert.equal(statusOf({ status: 'internal_error', exit_code: null }), 13);
  assert.equal(statusOf({ status: 'cancelled', exit_code: null }), 13);
  assert.equal(judge0Outcome('queued', undefined, plain).status.id, 1);
  assert.equal(judge0Outcome('running', undefined, plain).status.id, 2);
  const nzec = judge0Outcome('completed', result({ status: 'runtime_error', exit_code: 3 }), plain);
  assert.equal(nzec.message, 'Exited with error status 3');
  assert.equal(nzec.exit_code, 3);
  const memory = judge0Outcome('completed', result({ status: 'memory_limit', exit_code: 137, signal: 9 }), plain);
  assert.deepEqual([memory.exit_code, memory.exit_signal, memory.message], [137, null, 'Exited with error status 137']);
});

test('output: bytes kept exact in base64, not-UTF-8 refused without it, empty is null, stderr redirect appends', () => {
  const bytes = Buffer.from([0xff, 0xfe, 0x41]);
  const r = result({ stdout: bytes.toString('base64'), stderr: '', output_encoding: 'base64' });
  const submission = { token: r.id, input: {}, outcome: judge0Outcome('completed', r, plain), language: null };
  const shown = serializeJudge0(submission, ['stdout', 'stderr', 'time', 'memory'], true);
  assert.deepEqual(Buffer.from(shown.stdout as string, 'base64'), bytes);
  assert.equal(shown.stderr, null);
  assert.equal(shown.time, '0.02');
  assert.equal(shown.memory, 9000);
  assert.throws(() => serializeJudge0(submission, ['stdout'], false), NotUtf8Error);
  assert.doesNotThrow(() => serializeJudge0(submission, ['time'], false), 'only the fields asked for are converted');
  const both = result({
    stdout: Buffer.from('out\n').toString('base64'),
    stderr: Buffer.from('err\n').toString('base64'),
    output_encoding: 'base64',
  });
  const merged = judge0Outcome('completed', both, { ...plain, redirect_stderr_to_stdout: true });
  assert.equal(merged.stdout?.toString(), 'out\nerr\n');
  assert.equal(merged.stderr, null);
});

test("the callback body is Judge0's default fields, base64, in its order", () => {
  const body = judge0CallbackBody(result({ stdout: 'hi\n' }), plain);
  assert.deepEqual(Object.keys(body), [
    'stdout',
    'time',
    'memory',
    'stderr',
    'token',
    'compile_output',
    'message',
    'status',
  ]);
  assert.equal(body.stdout, 'aGkK\n');
  assert.deepEqual(body.status, { id: 3, description: 'Accepted' });
});

test('command_line_arguments split like bash after Judge0 drops $&;<>| and backquotes', () => {
  assert.deepEqual(splitArguments('1 2  3'), ['1', '2', '3']);
  assert.deepEqual(splitArguments(`"a b" 'c d' e\\ f ""`), ['a b', 'c d', 'e f', '']);
  assert.deepEqual(splitArguments('x; rm -rf / | y'), ['x', 'rm', '-rf', '/', 'y']);
  assert.deepEqual(splitArguments('   '), []);
});

test('fields: defaults, *, and unknown names', () => {
  assert.equal(requestedFields(undefined).fields.length, 8);
  assert.equal(requestedFields('*').fields.length, 35);
  assert.deepEqual(requestedFields('stdout,bogus'), { fields: ['stdout'], invalid: ['bogus'] });
  assert.equal(requestedFields('bogus').fields.length, 8, 'only unknown ones: the defaults (and a 400)');
});
