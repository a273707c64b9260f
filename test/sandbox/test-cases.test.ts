import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { run, type Stack, startStack } from '../support/stack.js';

describe('test cases and verdicts', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack.stop();
  });

  const program = [
    'import sys',
    'line = sys.stdin.readline().strip()',
    'if line == "crash": raise ValueError("bad input")',
    'if line == "loop":',
    '    while True: pass',
    'if line == "mem": x = bytearray(300 * 2**20)',
    'if line == "net":',
    '    import socket',
    '    socket.socket()',
    'print(int(line) ** 2)',
  ].join('\n');

  test('a verdict mix: accepted, wrong_answer, runtime_error, timeout, memory_limit, each in its own process', async () => {
    const r = await run(stack.app, {
      code: program,
      policy: 'standard',
      tests: [
        { stdin: '3\n', expected_output: '9\n' },
        { stdin: '4\n', expected_output: '15\n' },
        { stdin: 'crash\n', expected_output: '0\n' },
        { stdin: 'loop\n', expected_output: '0\n', limits: { time_ms: 300 } },
        { stdin: 'mem\n', expected_output: '0\n' },
        { stdin: '5\n', expected_output: '25   \n\n' },
      ],
    });
    assert.deepEqual(
      r.tests.map((t: { verdict: string }) => t.verdict),
      ['accepted', 'wrong_answer', 'runtime_error', 'timeout', 'memory_limit', 'accepted'],
    );
    assert.deepEqual(r.summary, { passed: 2, total: 6 });
    assert.equal(r.status, 'runtime_error', 'the first failing run status');
    const [first, wrong, crash, loop] = r.tests;
    assert.equal(first.stdout, '9\n');
    assert.equal(wrong.stdout, '16\n');
    assert.match(crash.stderr, /ValueError: bad input\n$/);
    assert.equal(crash.exit_code, 1);
    assert.ok(loop.time >= 0.3 && loop.time < 0.8, `loop time ${loop.time}`);
    assert.deepEqual(loop.limits, { time_ms: 300, memory_mb: 128 });
  });

  test('a policy violation fails its test only', async () => {
    const r = await run(stack.app, {
      code: program,
      policy: 'standard',
      tests: [
        { stdin: 'net\n', expected_output: '' },
        { stdin: '2\n', expected_output: '4' },
      ],
    });
    assert.deepEqual(
      r.tests.map((t: { verdict: string }) => t.verdict),
      ['security_violation', 'accepted'],
    );
    assert.match(
      r.tests[0].message,
      /^network access \(socket.__new__\) is not allowed \(line 9\)$/,
      r.tests[0].message,
    );
  });

  test('stop_on_first_failure skips the tests after the first failure', async () => {
    const r = await run(stack.app, {
      code: program,
      policy: 'standard',
      stop_on_first_failure: true,
      tests: [
        { stdin: '2\n', expected_output: '4' },
        { stdin: 'crash\n', expected_output: '0' },
        { stdin: '3\n', expected_output: '9' },
      ],
    });
    assert.deepEqual(
      r.tests.map((t: { verdict: string; status: string | null }) => [t.verdict, t.status]),
      [
        ['accepted', 'ok'],
        ['runtime_error', 'runtime_error'],
        ['skipped', null],
      ],
    );
    assert.deepEqual(r.summary, { passed: 1, total: 3 });
  });

  test('stop_on_first_failure stops the run at a wrong answer: the later tests never start', async () => {
    const r = await run(stack.app, {
      code: program,
      policy: 'standard',
      stop_on_first_failure: true,
      tests: [
        { stdin: '2\n', expected_output: '4' },
        { stdin: '3\n', expected_output: '10' },
        { stdin: 'loop\n', expected_output: '0', limits: { time_ms: 1500 } },
        { stdin: 'loop\n', expected_output: '0', limits: { time_ms: 1500 } },
      ],
    });
    assert.deepEqual(
      r.tests.map((t: { verdict: string }) => t.verdict),
      ['accepted', 'wrong_answer', 'skipped', 'skipped'],
    );
    // Had the two loops run, the sandbox would have spent 3 s on them.
    assert.ok(r.wall_time < 1.5, `wall_time ${r.wall_time}`);
    // Every test passing: the worker says "next" after each, and all of them run.
    const clean = await run(stack.app, {
      code: program,
      policy: 'standard',
      stop_on_first_failure: true,
      tests: [1, 2, 3, 4].map((n) => ({ stdin: `${n}\n`, expected_output: `${n * n}` })),
    });
    assert.deepEqual(clean.summary, { passed: 4, total: 4 });
  });

  test('comparators: exact, trailing whitespace (default), float tolerance', async () => {
    const code = 'print(input())';
    const exact = await run(stack.app, {
      code,
      comparator: 'exact',
      tests: [
        { stdin: 'a', expected_output: 'a\n' },
        { stdin: 'a', expected_output: 'a' },
      ],
    });
    assert.deepEqual(
      exact.tests.map((t: { verdict: string }) => t.verdict),
      ['accepted', 'wrong_answer'],
    );
    const float = await run(stack.app, {
      code: 'a, b = map(float, input().split())\nprint(a / b)',
      comparator: 'float',
      float_tolerance: 1e-4,
      tests: [
        { stdin: '1 3', expected_output: '0.33333' },
        { stdin: '2 3', expected_output: '0.67' },
      ],
    });
    assert.deepEqual(
      float.tests.map((t: { verdict: string }) => t.verdict),
      ['accepted', 'wrong_answer'],
    );
  });

  test('with output_encoding base64, answers are still judged on the text', async () => {
    const r = await run(stack.app, {
      code: 'print(int(input()) * 2)',
      output_encoding: 'base64',
      tests: [
        { stdin: '2', expected_output: '4' },
        { stdin: '3', expected_output: '7' },
      ],
    });
    assert.deepEqual(
      r.tests.map((t: { verdict: string; stdout: string }) => [t.verdict, t.stdout]),
      [
        ['accepted', Buffer.from('4\n').toString('base64')],
        ['wrong_answer', Buffer.from('6\n').toString('base64')],
      ],
    );
  });

  test("each test gets its own args, or the job's", async () => {
    const r = await run(stack.app, {
      code: 'import sys\nprint(" ".join(sys.argv[1:]))',
      args: ['job'],
      tests: [
        { expected_output: 'job\n' },
        { args: ['own', 'two'], expected_output: 'own two\n' },
        { args: [], expected_output: '\n' },
      ],
    });
    assert.deepEqual(
      r.tests.map((t: { verdict: string; stdout: string }) => [t.verdict, t.stdout]),
      [
        ['accepted', 'job\n'],
        ['accepted', 'own two\n'],
        ['accepted', '\n'],
      ],
    );
  });

  test('too many tests is a 400 naming the maximum', async () => {
    const res = await stack.app.inject({
      method: 'POST',
      url: '/jobs',
      payload: { code: 'print(1)', tests: Array.from({ length: 51 }, () => ({ expected_output: '1' })) },
    });
    assert.equal(res.statusCode, 400);
    assert.match(res.json().message, /51 tests; the maximum is 50/);
  });
});
