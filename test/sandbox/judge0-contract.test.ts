import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { generateWebhookSecret } from '@sbx/webhooks';
import { eventually, pollUntil, sleep } from '../support/poll.js';
import { type Stack, startStack } from '../support/stack.js';

/**
 * Judge0 CE 1.13's contract against a real worker: every status id we can produce, base64 round trips
 * with bytes that are not UTF-8, batch, wait=true, callbacks, and the Judge0 IDE's own flow. The cases
 * go in one batch, so the sandboxes run them side by side.
 */
interface Shown {
  token: string;
  status: { id: number; description: string };
  stdout: string | null;
  stderr: string | null;
  message: string | null;
  exit_code: number | null;
  exit_signal: number | null;
  time: string | null;
  memory: number | null;
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const unb64 = (s: string | null) => (s === null ? null : Buffer.from(s, 'base64'));

/** Each case: a submission and the Judge0 status it must end with. */
const CASES: { name: string; status: number; body: Record<string, unknown> }[] = [
  { name: 'accepted', status: 3, body: { source_code: 'print("hi")  ', expected_output: 'hi\n\n' } },
  { name: 'wrong answer', status: 4, body: { source_code: 'print("no")', expected_output: 'hi' } },
  { name: 'time limit', status: 5, body: { source_code: 'while True:\n    pass', cpu_time_limit: '1' } },
  { name: 'sigsegv', status: 7, body: { source_code: 'import faulthandler\nfaulthandler._sigsegv()' } },
  { name: 'output over the cap', status: 8, body: { source_code: 'print("x" * 200000)' } },
  { name: 'sigfpe', status: 9, body: { source_code: 'import faulthandler\nfaulthandler._sigfpe()' } },
  { name: 'sigabrt', status: 10, body: { source_code: 'import faulthandler\nfaulthandler._sigabrt()' } },
  { name: 'nzec', status: 11, body: { source_code: 'raise SystemExit(3)' } },
  { name: 'memory', status: 11, body: { source_code: 'x = bytearray(400 * 1024 * 1024)\nprint(len(x))' } },
  { name: 'policy refusal', status: 12, body: { source_code: 'print(open("/etc/passwd").read())' } },
  {
    name: 'bytes, stdin and arguments',
    status: 3,
    body: {
      source_code:
        'import sys\nsys.stdout.buffer.write(b"\\xff\\xfe\\x00A")\nsys.stderr.write(input() + repr(sys.argv[1:]))',
      stdin: 'héllo\n',
      command_line_arguments: '"a b" c',
    },
  },
];

/** A loopback receiver of Judge0's callbacks: method and body of each. */
async function receiver() {
  const calls: { method: string; body: Record<string, unknown> }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      calls.push({ method: req.method ?? '', body: JSON.parse(Buffer.concat(chunks).toString()) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { calls, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/judge0-callback`, server };
}

describe('Judge0 contract, end to end', () => {
  let stack: Stack;
  const inject = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) =>
    stack.app.inject({ method, url, ...(payload ? { payload: payload as Record<string, unknown> } : {}) });
  before(async () => {
    stack = await startStack({
      env: {
        SBX_POOL_MIN: '2',
        SBX_POOL_MAX: '2',
        SBX_WORKER_CONCURRENCY: '2',
        SBX_SELF_CHECK: 'off',
        SBX_MAX_OUTPUT_BYTES: '65536',
        SBX_WEBHOOK_SECRET: generateWebhookSecret(),
        SBX_WEBHOOK_ALLOWLIST: '127.0.0.0/8',
        SBX_WEBHOOK_BASE_DELAY_MS: '50',
      },
    });
  });
  after(async () => {
    await stack.stop();
  });

  test('a batch of submissions ends with every status id we produce, base64 exact both ways', async () => {
    const submissions = CASES.map((c) => ({
      language_id: 71,
      ...c.body,
      source_code: b64(String(c.body.source_code)),
      ...(c.body.stdin ? { stdin: b64(String(c.body.stdin)) } : {}),
      ...(c.body.expected_output ? { expected_output: b64(String(c.body.expected_output)) } : {}),
    }));
    const res = await inject('POST', '/submissions/batch?base64_encoded=true', { submissions });
    assert.equal(res.statusCode, 201, res.body);
    const tokens = (res.json() as { token: string }[]).map((t) => t.token);
    assert.equal(tokens.length, CASES.length);
    const url = `/submissions/batch?tokens=${tokens.join(',')}&base64_encoded=true&fields=token,status,stdout,stderr,message,exit_code,exit_signal,time,memory`;
    const { value } = await pollUntil(
      async () => (await inject('GET', url)).json().submissions as Shown[],
      (all) => all.every((s) => s.status.id > 2),
      60_000,
      200,
    );
    CASES.forEach((c, i) => {
      const shown = value[i] as Shown;
      assert.equal(shown.status.id, c.status, `${c.name}: ${JSON.stringify(shown)}`);
    });
    const byName = (name: string) => value[CASES.findIndex((c) => c.name === name)] as Shown;
    assert.deepEqual(
      [byName('nzec').exit_code, unb64(byName('nzec').message)?.toString()],
      [3, 'Exited with error status 3'],
    );
    assert.deepEqual(
      [byName('memory').exit_code, unb64(byName('memory').message)?.toString()],
      [137, 'Exited with error status 137'],
    );
    assert.equal(byName('sigsegv').exit_signal, 11);
    assert.match(byName('accepted').time ?? '', /^\d+\.\d+$/);
    assert.ok(Number.isInteger(byName('accepted').memory));
    assert.equal(byName('accepted').stderr, null);
    const bytes = byName('bytes, stdin and arguments');
    assert.deepEqual(unb64(bytes.stdout), Buffer.from([0xff, 0xfe, 0x00, 0x41]));
    assert.equal(unb64(bytes.stderr)?.toString(), "héllo['a b', 'c']");
    const plain = await inject('GET', `/submissions/${bytes.token}`);
    assert.equal(plain.statusCode, 400);
    assert.deepEqual(plain.json(), {
      error:
        'some attributes for this submission cannot be converted to UTF-8, use base64_encoded=true query parameter',
    });
    const header = await inject('GET', `/submissions/${byName('memory').token}?fields=status_id`);
    assert.equal(header.headers['x-sbx-status'], 'memory_limit', 'our own verdict travels in a header');
  });

  test('Processing while it runs, Internal Error (13) once cancelled on our own route', async () => {
    const res = await inject('POST', '/submissions', {
      language_id: 71,
      source_code: 'import time\nprint("started", flush=True)\ntime.sleep(1.8)',
    });
    const { token } = res.json();
    const running = await pollUntil(
      async () => (await inject('GET', `/submissions/${token}?fields=status`)).json().status.id as number,
      (id) => id === 2,
      20_000,
      50,
    );
    assert.ok(running.settled, `status ${running.value}`);
    assert.equal((await inject('DELETE', `/jobs/${token}`)).statusCode, 202);
    const done = await pollUntil(
      async () => (await inject('GET', `/submissions/${token}`)).json() as Shown,
      (s) => s.status.id > 2,
      20_000,
    );
    assert.equal(done.value.status.id, 13);
    assert.equal(done.value.message, 'cancelled by request');
  });

  test("wait=true answers the finished submission; the callback is Judge0's PUT of it, base64", async () => {
    const hook = await receiver();
    try {
      const res = await inject('POST', '/submissions/?base64_encoded=true&wait=true', {
        language_id: '100',
        source_code: b64('print(6 * 7)'),
        expected_output: b64('42'),
        callback_url: hook.url,
      });
      assert.equal(res.statusCode, 201, res.body);
      const shown = res.json() as Shown;
      assert.equal(shown.status.id, 3);
      assert.equal(shown.stdout, 'NDIK\n');
      // The worker sets it once the result is stored, which a waiting answer may just precede.
      const recordKey = `${stack.config.prefix}:judge0:${shown.token}`;
      const aligned = async () => {
        const ttl = await stack.app.redis.ttl(recordKey);
        return ttl > 0 && ttl <= stack.config.resultTtlSeconds;
      };
      assert.ok(await eventually(aligned, 5000), 'the record lives as long as the result');
      assert.ok(await eventually(() => hook.calls.length > 0, 15_000), 'the callback arrived');
      const call = hook.calls[0];
      assert.equal(call?.method, 'PUT');
      assert.deepEqual(Object.keys(call?.body ?? {}), [
        'stdout',
        'time',
        'memory',
        'stderr',
        'token',
        'compile_output',
        'message',
        'status',
      ]);
      assert.equal(call?.body.token, shown.token);
      assert.equal(call?.body.stdout, 'NDIK\n');
      assert.deepEqual(call?.body.status, { id: 3, description: 'Accepted' });
    } finally {
      hook.server.close();
    }
  });

  test("the Judge0 IDE's flow: POST base64 without waiting, a poll every 100 ms, done well inside 5 s", async () => {
    // The IDE reads the language first, for its file name: Python 3 under 71, with the version a worker found.
    const language = (await inject('GET', '/languages/71')).json();
    assert.match(language.name, /^Python \(3\.\d+\.\d+\)$/);
    assert.equal(language.source_file, 'main.py');
    const [queue] = (await inject('GET', '/workers')).json();
    assert.deepEqual([queue.available, queue.paused], [1, 0], 'the one worker, ready');
    const started = Date.now();
    const res = await inject('POST', '/submissions?base64_encoded=true&wait=false', {
      source_code: b64('import sys\nprint(input())\nprint("oops", file=sys.stderr)'),
      language_id: 71,
      stdin: b64('from the IDE'),
      redirect_stderr_to_stdout: true,
      compiler_options: '',
      command_line_arguments: '',
    });
    assert.equal(res.statusCode, 201, res.body);
    const { token } = res.json();
    let shown: Shown | null = null;
    while (Date.now() - started < 5000) {
      shown = (await inject('GET', `/submissions/${token}?base64_encoded=true&fields=*`)).json() as Shown;
      if (shown.status.id > 2) break;
      await sleep(100);
    }
    const elapsed = Date.now() - started;
    assert.equal(shown?.status.id, 3, JSON.stringify(shown));
    assert.equal(unb64(shown?.stdout ?? null)?.toString(), 'from the IDE\noops\n');
    assert.equal(shown?.stderr, null);
    assert.deepEqual((shown as unknown as { language: unknown }).language, { id: 71, name: language.name });
    assert.ok(elapsed < 4000, `answered in ${elapsed} ms`);
  });
});
