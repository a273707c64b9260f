import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RUNTIME } from '@sbx/shared';
import { run, type Stack, startStack } from '../support/stack.js';

describe('submit → queue → worker → fresh gVisor container → result', () => {
  let stack: Stack;
  before(async () => {
    // Room for the C-recursion crash below, which costs 1-2.5 s of CPU under gVisor on a loaded host.
    stack = await startStack({ env: { SBX_MAX_TIME_MS: '5000' } });
  });
  after(async () => {
    await stack.stop();
  });

  test('print(2 + 2) gives exactly "4\\n", empty stderr, exit 0, ok', async () => {
    const r = await run(stack.app, { code: 'print(2 + 2)' });
    assert.equal(r.status, 'ok');
    assert.equal(r.stdout, '4\n');
    assert.equal(r.stderr, '');
    assert.equal(r.exit_code, 0);
    assert.equal(typeof r.time, 'number');
    assert.ok(r.time > 0 && r.time < 1, `time ${r.time}`);
    assert.match(r.id, /^[0-9a-f-]{36}$/);
    assert.deepEqual(r.limits, { time_ms: 2000, memory_mb: 128 });
    // Where the time went: each stage present, and together no more than submission to answer.
    const { queued, sandbox, run: ran, judge, warm } = r.stages;
    assert.equal(warm, false, 'test stacks run cold unless they ask for the pool');
    assert.ok(sandbox > 0.1 && ran > 0 && queued >= 0 && judge >= 0, JSON.stringify(r.stages));
    const total = (Date.parse(r.finished_at) - Date.parse(r.submitted_at)) / 1000;
    assert.ok(queued + sandbox + ran + judge <= total + 0.01, `${JSON.stringify(r.stages)} within ${total} s`);
  });

  test('an exception is a runtime_error with the traceback in stderr', async () => {
    const r = await run(stack.app, { code: 'def f():\n    return 1 / 0\nprint("before")\nf()\n' });
    assert.equal(r.status, 'runtime_error');
    assert.equal(r.stdout, 'before\n');
    assert.equal(r.exit_code, 1);
    assert.match(r.stderr, /^Traceback \(most recent call last\):\n {2}File "main\.py", line 4, in <module>/);
    assert.match(r.stderr, /line 2, in f\n/);
    assert.match(r.stderr, /ZeroDivisionError: division by zero\n$/);
  });

  test('a syntax error is a runtime_error naming the line', async () => {
    const r = await run(stack.app, { code: 'x = 1\nprint(\n' });
    assert.equal(r.status, 'runtime_error');
    assert.match(r.stderr, /File "main\.py", line 2/);
    assert.match(r.stderr, /SyntaxError/);
  });

  test('while True: pass is a timeout within the limit plus a small margin', async () => {
    const started = performance.now();
    const r = await run(stack.app, { code: 'while True: pass', limits: { time_ms: 1000 } });
    const elapsed = (performance.now() - started) / 1000;
    assert.equal(r.status, 'timeout');
    assert.ok(r.time >= 1 && r.time < 1.5, `time ${r.time}`);
    // Whole request: container start (~0.6 s) + the limit + teardown.
    assert.ok(elapsed < 1 + 3, `request took ${elapsed}s`);
  });

  test('threads that reach the CPU backstop before the wall clock are a timeout, not a SIGKILL crash', async () => {
    // Hashing releases the GIL, so five threads burn CPU together; gVisor also counts their waits.
    const code = [
      'import hashlib, threading',
      'data = b"x" * (1 << 20)',
      'def burn():',
      '    while True: hashlib.sha256(data).digest()',
      'for _ in range(4): threading.Thread(target=burn, daemon=True).start()',
      'burn()',
    ].join('\n');
    const r = await run(stack.app, { code });
    assert.equal(r.status, 'timeout', `${r.status}: ${r.message}`);
    assert.equal(r.signal, null);
  });

  test('a 1.5 s busy loop under the 2 s limit is ok', async () => {
    const code = 'import time\nt = time.monotonic()\nwhile time.monotonic() - t < 1.5: pass\nprint("done")';
    const r = await run(stack.app, { code });
    assert.equal(r.status, 'ok');
    assert.equal(r.stdout, 'done\n');
  });

  test('300 MB is a memory_limit; 100 MB succeeds under 128 MB', async () => {
    const big = await run(stack.app, { code: 'x = bytearray(300 * 2**20)\nprint("allocated")' });
    assert.equal(big.status, 'memory_limit');
    assert.equal(big.stdout, '');
    const fits = await run(stack.app, { code: 'x = bytearray(100 * 2**20)\nprint(len(x))' });
    assert.equal(fits.status, 'ok');
    assert.equal(fits.stdout, `${100 * 2 ** 20}\n`);
  });

  test('the policy layer refuses socket, os, open and eval with the name and line (strict, the default)', async () => {
    const cases: [string, RegExp][] = [
      [
        'import socket\nsocket.create_connection(("127.0.0.1", 6379))',
        /^import of 'socket' is not allowed \(line 1\)$/,
      ],
      ['x = 1\nimport os', /^import of 'os' is not allowed \(line 2\)$/],
      ['print(open("/etc/passwd").read())', /^use of 'open' is not allowed \(line 1\)$/],
      ['print(eval("2 + 2"))', /^use of 'eval' is not allowed \(line 1\)$/],
    ];
    for (const [code, message] of cases) {
      const r = await run(stack.app, { code });
      assert.equal(r.status, 'security_violation', code);
      assert.match(r.message, message);
      assert.equal(r.stdout, '');
      assert.equal(r.policy, 'strict');
    }
  });

  test('the standard profile allows the standard library but refuses writes outside /tmp and network', async () => {
    const ok = await run(stack.app, {
      policy: 'standard',
      code: 'import os, json\nwith open("/tmp/f", "w") as f: f.write("x")\nprint(json.dumps(sorted(os.listdir("/tmp"))))',
    });
    assert.equal(ok.status, 'ok', ok.stderr);
    // outputs: the program's folder for files that come back as artifacts, made by the supervisor.
    assert.equal(ok.stdout, '["f", "outputs"]\n');
    const write = await run(stack.app, { policy: 'standard', code: 'print("before")\nopen("/etc/x", "w")' });
    assert.equal(write.status, 'security_violation');
    assert.equal(write.stdout, 'before\n', 'output before the violation is kept');
    assert.match(write.message, /writing files outside \/tmp is not allowed \(\/etc\/x\) \(line 2\)/);
    const net = await run(stack.app, { policy: 'standard', code: 'import socket\nsocket.socket()' });
    assert.equal(net.status, 'security_violation');
    assert.match(net.message, /network access/);
  });

  test('a stdout flood is an output_limit with stdout cut at the cap', async () => {
    const r = await run(stack.app, { code: 'while True:\n    print("x" * 999)' });
    assert.equal(r.status, 'output_limit');
    assert.equal(Buffer.byteLength(r.stdout), stack.config.maxOutputBytes);
    assert.equal(r.stdout_truncated, true);
    assert.ok(r.stdout.startsWith(`${'x'.repeat(999)}\n`));
  });

  test('stdin reaches the program', async () => {
    const r = await run(stack.app, {
      code: 'import sys\nlines = sys.stdin.read().splitlines()\nprint(len(lines), sum(map(int, lines)))',
      stdin: '1\n2\n39\n',
    });
    assert.equal(r.status, 'ok');
    assert.equal(r.stdout, '3 42\n');
  });

  test('the sandbox runs the Python version the API states', async () => {
    const r = await run(stack.app, { code: 'import sys\nprint("%d.%d" % sys.version_info[:2])' });
    assert.equal(r.stdout, `${RUNTIME.version}\n`);
  });

  test('output_encoding base64 returns the exact bytes; utf8 (the default) replaces what is not UTF-8', async () => {
    const code = 'import sys\nsys.stdout.buffer.write(bytes(range(256)))\nsys.stderr.buffer.write(b"\\xff")';
    const b64 = await run(stack.app, { code, output_encoding: 'base64' });
    assert.equal(b64.status, 'ok', b64.stderr);
    assert.equal(b64.output_encoding, 'base64');
    assert.deepEqual(Buffer.from(b64.stdout, 'base64'), Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
    assert.deepEqual(Buffer.from(b64.stderr, 'base64'), Buffer.from([0xff]));
    const text = await run(stack.app, { code });
    assert.equal(text.output_encoding, undefined);
    assert.ok(text.stdout.startsWith('\u0000\u0001') && text.stdout.includes('\ufffd'), 'lossy as text');
  });

  test('args become sys.argv[1:], exactly (spaces, quotes, non-ASCII, an empty one)', async () => {
    const args = ['a', 'b c', '"quoted"', 'ünï', '', '--flag=1'];
    const r = await run(stack.app, { code: 'import json, sys\nprint(json.dumps(sys.argv))', args });
    assert.equal(r.status, 'ok', r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), ['main.py', ...args]);
    const none = await run(stack.app, { code: 'import sys\nprint(sys.argv)' });
    assert.equal(none.stdout, "['main.py']\n");
  });

  test('non-zero sys.exit and a self-SIGKILL are runtime_errors, not memory_limit', async () => {
    const exit3 = await run(stack.app, { code: 'import sys\nsys.exit(3)' });
    assert.equal(exit3.status, 'runtime_error');
    assert.equal(exit3.exit_code, 3);
    const killed = await run(stack.app, {
      policy: 'standard',
      code: 'import os, signal\nos.kill(os.getpid(), signal.SIGKILL)',
    });
    assert.equal(killed.status, 'runtime_error');
    assert.equal(killed.exit_code, 137);
    assert.equal(killed.signal, 9);
  });

  test('a deep C-level recursion crash is a runtime_error (SIGSEGV), not a timeout or memory_limit', async () => {
    // Python-to-Python calls no longer use the C stack in 3.11; repr of a deep nest does.
    const code =
      'import sys\nsys.setrecursionlimit(10**7)\nx = []\nfor _ in range(500000):\n    x = [x]\nprint(len(repr(x)))';
    // The crash, not the clock, is the point: a limit well past its cost.
    const r = await run(stack.app, { code, limits: { time_ms: 5000 } });
    assert.equal(r.status, 'runtime_error', `${r.status} ${r.message}`);
    assert.equal(r.signal, 11);
  });

  test('POST /jobs then GET /jobs/:id goes queued/running → completed', async () => {
    const res = await stack.app.inject({ method: 'POST', url: '/jobs', payload: { code: 'print("polled")' } });
    assert.equal(res.statusCode, 202);
    const { id, state } = res.json();
    assert.equal(state, 'queued');
    assert.equal(res.headers.location, `/jobs/${id}`);
    const seen = new Set<string>();
    const deadline = Date.now() + 20_000;
    let view: { state: string; result?: { status: string; stdout: string } } = { state: 'queued' };
    while (Date.now() < deadline) {
      view = (await stack.app.inject({ method: 'GET', url: `/jobs/${id}` })).json();
      seen.add(view.state);
      if (view.state === 'completed') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(view.state, 'completed');
    assert.equal(view.result?.status, 'ok');
    assert.equal(view.result?.stdout, 'polled\n');
    for (const s of seen) assert.ok(['queued', 'running', 'completed'].includes(s), s);
  });
});
