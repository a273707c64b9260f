import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { run, type Stack, startStack } from '../support/stack.js';

/**
 * What one test of a job may leave for the next, and what the harness itself may cost the program
 * (issue 18): through the real stack (API, queue, worker, Docker, runsc), one job at a time.
 *
 * - Nothing of test N survives into test N+1: no process, no file, no flag on a shared descriptor.
 * - No test can read another test's input, or any expected output, out of its own memory.
 * - The output cap counts the program's bytes only: 50 tests just under it together are accepted.
 * - One unusable artifact name costs that file only.
 */

type TestResult = { verdict: string; status: string | null; stdout: string; stderr: string; message?: string };
type TestsRun = { status: string; tests: TestResult[]; summary: { passed: number; total: number } };

const show = (r: TestsRun) =>
  JSON.stringify(
    r.tests.map((t) => ({
      verdict: t.verdict,
      status: t.status,
      message: t.message,
      stdout: t.stdout.slice(0, 200),
      stderr: t.stderr.slice(-300),
    })),
  );

describe('harness isolation between tests, policy layer on', () => {
  let stack: Stack;
  before(async () => {
    // Test data counts against SBX_MAX_STDIN_BYTES: 50 expected outputs near the output cap need more than 1 MiB.
    stack = await startStack({ env: { SBX_MAX_TIME_MS: '5000', SBX_MAX_STDIN_BYTES: String(4 << 20) } });
  });
  after(async () => {
    await stack.stop();
  });

  test('a file test N wrote in /tmp is gone when test N+1 starts', async () => {
    const name = `/tmp/leftover-${randomBytes(4).toString('hex')}.txt`;
    const code = [
      'import os, sys',
      'if sys.stdin.readline().strip() == "leave":',
      `    open(${JSON.stringify(name)}, "w").write("from an earlier test")`,
      '    print("left a file")',
      'else:',
      `    print("saw the file" if os.path.exists(${JSON.stringify(name)}) else "clean")`,
    ].join('\n');
    const r: TestsRun = await run(stack.app, {
      code,
      policy: 'standard',
      tests: [
        { stdin: 'leave\n', expected_output: 'left a file\n' },
        { stdin: 'look\n', expected_output: 'clean\n' },
        { stdin: 'look\n', expected_output: 'clean\n' },
      ],
    });
    // The first test ran (its file was written): the later ones are judged on what they saw.
    assert.equal(r.tests[0]?.verdict, 'accepted', show(r));
    assert.deepEqual(
      r.tests.slice(1).map((t) => [t.verdict, t.stdout]),
      [
        ['accepted', 'clean\n'],
        ['accepted', 'clean\n'],
      ],
      show(r),
    );
  });

  test("a process test N starts (through _posixsubprocess, unaudited) never writes into test N+1's output", async () => {
    // The leftover prints LEFTOVER every 0.1 s for 2 s in a session of its own; the next test waits
    // 0.8 s before its answer, so a leftover that lived on would land in the middle of it.
    const code = [
      'import os, sys, time',
      'if sys.stdin.readline().strip() == "leave":',
      '    import _posixsubprocess',
      '    r, w = os.pipe()',
      '    loop = b"for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do echo LEFTOVER; sleep 0.1; done"',
      '    _posixsubprocess.fork_exec([b"/bin/sh", b"-c", loop], [b"/bin/sh"], True, (), None, None,',
      '        -1, -1, -1, -1, -1, -1, r, w, False, True, -1, None, None, None, -1, None, True)',
      '    print("left a process")',
      'else:',
      '    time.sleep(0.8)',
      '    print("clean")',
    ].join('\n');
    const r: TestsRun = await run(stack.app, {
      code,
      policy: 'standard',
      tests: [
        { stdin: 'leave\n', expected_output: 'left a process\n' },
        { stdin: 'look\n', expected_output: 'clean\n' },
        { stdin: 'look\n', expected_output: 'clean\n' },
      ],
    });
    // Process creation is refused below Python (seccomp): the attempt itself is the first test's verdict.
    assert.equal(r.tests[0]?.status, 'security_violation', show(r));
    assert.ok(!r.tests[0]?.stdout.includes('left a process'), show(r));
    assert.deepEqual(
      r.tests.slice(1).map((t) => [t.verdict, t.stdout, t.stderr]),
      [
        ['accepted', 'clean\n', ''],
        ['accepted', 'clean\n', ''],
      ],
      show(r),
    );
  });

  test('O_NONBLOCK that test N sets on its stdout and stderr reaches neither test N+1 nor the supervisor', async () => {
    // 150 kB on each stream with plain print (600 kB in all, under the job's output cap): on a
    // descriptor left non-blocking the pipe (64 kB) fills, and the writes fail with EAGAIN
    // (BlockingIOError), and so do the supervisor's own.
    const line = 'y'.repeat(99);
    const code = [
      'import fcntl, os, sys',
      'if sys.stdin.readline().strip() == "set":',
      '    for fd in (1, 2):',
      '        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)',
      '    print("set")',
      'else:',
      `    for i in range(1500): print(${JSON.stringify(line)})`,
      `    for i in range(1500): print(${JSON.stringify(line)}, file=sys.stderr)`,
    ].join('\n');
    const many = `${line}\n`.repeat(1500);
    const r: TestsRun = await run(stack.app, {
      code,
      policy: 'standard',
      tests: [
        { stdin: 'set\n', expected_output: 'set\n' },
        { stdin: 'print\n', expected_output: many },
        { stdin: 'set\n', expected_output: 'set\n' },
        { stdin: 'print\n', expected_output: many },
      ],
    });
    assert.equal(r.status, 'ok', show(r));
    assert.deepEqual(
      r.tests.map((t) => t.verdict),
      ['accepted', 'accepted', 'accepted', 'accepted'],
      show(r),
    );
    for (const t of [r.tests[1], r.tests[3]]) {
      assert.equal(t?.stdout.length, many.length, show(r));
      assert.equal(t?.stderr, many, 'stderr intact');
    }
  });

  test("50 tests printing just under the output cap together are all accepted: the harness's own bytes do not count", async () => {
    const cap = stack.config.maxOutputBytes;
    const tests = stack.config.maxTests;
    // Each test prints `each` bytes (newline included); together 3 kB under the cap.
    const each = Math.floor((cap - 3000) / tests);
    assert.ok(each * tests < cap && each * tests > cap - 3000 - tests, `${each * tests} vs ${cap}`);
    const code = `import sys\nsys.stdout.write("x" * ${each - 1} + "\\n")`;
    const under: TestsRun = await run(stack.app, {
      code,
      tests: Array.from({ length: tests }, () => ({ expected_output: `${'x'.repeat(each - 1)}\n` })),
    });
    assert.equal(
      under.status,
      'ok',
      `${under.status}: ${show({ ...under, tests: under.tests.filter((t) => t.verdict !== 'accepted') })}`,
    );
    assert.deepEqual(under.summary, { passed: tests, total: tests });
    // The cap still holds: the same job 3 kB over it is stopped (a cap that counted nothing would pass above).
    const over = Math.ceil((cap + 3000) / tests);
    const past: TestsRun = await run(stack.app, {
      code: `import sys\nsys.stdout.write("x" * ${over - 1} + "\\n")`,
      tests: Array.from({ length: tests }, () => ({ expected_output: 'x' })),
    });
    assert.equal(past.status, 'output_limit', `${past.status}: ${JSON.stringify(past.summary)}`);
  });

  test('a file with a newline in its name among the outputs costs that file only: the run is ok with the good ones', async () => {
    const r = await run(stack.app, {
      code: [
        'open("/tmp/outputs/good.txt", "w").write("good")',
        'open("/tmp/outputs/bad\\nname.txt", "w").write("bad")',
        'open("/tmp/outputs/zz.csv", "w").write("a,b\\n1,2\\n")',
        'print("wrote")',
      ].join('\n'),
      policy: 'standard',
    });
    assert.equal(r.status, 'ok', `${r.status}: ${r.message ?? ''}`);
    assert.equal(r.stdout, 'wrote\n');
    const artifacts = (r.artifacts ?? []) as { name: string; mime: string; data: string }[];
    assert.deepEqual(
      artifacts.map((a) => [a.name, a.mime, Buffer.from(a.data, 'base64').toString()]),
      [
        ['good.txt', 'text/plain', 'good'],
        ['zz.csv', 'text/csv', 'a,b\n1,2\n'],
      ],
    );
  });
});

describe("no test can read another test's input, policy layer off (the floor alone)", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ env: { SBX_POLICY_LAYER: 'off', SBX_MAX_TIME_MS: '5000' } });
  });
  after(async () => {
    await stack.stop();
  });

  test("gc.get_objects() and /proc/self/mem hold no other test's stdin and no expected output", async () => {
    const secret = randomBytes(8).toString('hex');
    const expected = randomBytes(8).toString('hex');
    // The program searches for SECRET-<16 hex digits> and EXPECTED-<16 hex digits>: its own source
    // spells neither (its pattern is "(?:SECRET|EXPECTED)-[0-9a-f]{16}"), so whatever it finds came
    // from somewhere else in its memory. Test 1 holds the secret as its own stdin; the tests after it
    // are forked after it ran, and must not find it.
    const code = [
      'import gc, re, sys',
      'mine = sys.stdin.read()',
      'pattern = re.compile(rb"(?:SECRET|EXPECTED)-[0-9a-f]{16}")',
      'found = set()',
      // A dict of strings and ints only is untracked by the collector: look inside every container.
      'def search(v, depth=0):',
      '    if isinstance(v, str): v = v.encode("utf-8", "replace")',
      '    if isinstance(v, (bytes, bytearray)): found.update(pattern.findall(v))',
      '    elif depth < 4 and isinstance(v, dict):',
      '        for k, x in list(v.items()): search(k, depth + 1); search(x, depth + 1)',
      '    elif depth < 4 and isinstance(v, (list, tuple, set, frozenset)):',
      '        for x in list(v): search(x, depth + 1)',
      'for o in gc.get_objects():',
      '    search(o)',
      // Where /proc/self/mem can be read at all (gVisor refuses it to a process that changed its uid):
      // every readable mapping, so freed and unreferenced copies count too.
      'try:',
      '    maps, mem = open("/proc/self/maps"), open("/proc/self/mem", "rb", 0)',
      'except OSError:',
      '    maps, mem = [], None',
      'if mem is not None:',
      '    for line in maps:',
      '        fields = line.split()',
      '        if not fields[1].startswith("r") or (len(fields) > 5 and fields[5].startswith("[v")):',
      '            continue',
      '        start, end = (int(x, 16) for x in fields[0].split("-"))',
      // 1 MB at a time (a region read whole could pass the memory limit), overlapping by a marker's length.
      '        for at in range(start, end, 1 << 20):',
      '            try:',
      '                mem.seek(at)',
      '                found.update(pattern.findall(mem.read(min((1 << 20) + 32, end - at))))',
      '            except (OSError, OverflowError, ValueError, MemoryError):',
      '                break',
      'found.discard(mine.strip().encode())',
      'print("found", sorted(x.decode() for x in found))',
    ].join('\n');
    const r: TestsRun = await run(stack.app, {
      code,
      policy: 'standard',
      limits: { time_ms: 5000 },
      tests: [
        { stdin: 'ask\n', expected_output: `EXPECTED-${expected}` },
        { stdin: `SECRET-${secret}\n`, expected_output: `EXPECTED-${expected}` },
        { stdin: 'ask\n', expected_output: `EXPECTED-${expected}` },
        { stdin: 'ask\n', expected_output: `EXPECTED-${expected}` },
      ].map((t) => ({ ...t, limits: { time_ms: 5000 } })),
    });
    // Each test ran to its end (a wrong answer, as designed) and said what it found.
    assert.deepEqual(
      r.tests.map((t) => t.status),
      ['ok', 'ok', 'ok', 'ok'],
      show(r),
    );
    for (const [i, t] of r.tests.entries()) {
      assert.match(t.stdout, /^found \[.*\]\n$/, `test ${i}: ${t.stdout}`);
      assert.ok(!t.stdout.includes(secret), `test ${i} read test 1's stdin: ${t.stdout}`);
      assert.ok(!t.stdout.includes(expected), `test ${i} read an expected output: ${t.stdout}`);
    }
  });
});
