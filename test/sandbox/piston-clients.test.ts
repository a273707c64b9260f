import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { PistonClient as PistonApiClient } from 'piston-api-client';
import piston from 'piston-client';
import WebSocket from 'ws';
import { type Stack, startStack } from '../support/stack.js';

/**
 * Two npm clients nobody here wrote, pointed at a real stack (API listening on loopback, a worker,
 * gVisor sandboxes): piston-client (its JSON goes as text/plain, its defaults are run_timeout 3000,
 * run_memory_limit -1 and args 1 2 3) and piston-api-client; then Piston's WebSocket with a program
 * that reads its input as it comes. docs/compat.md, Piston.
 */
const require = createRequire(import.meta.url);
// Its "module" build imports without file extensions, which Node's ESM cannot load: the CommonJS one.
const { PistonClient } = require('piston-api-client') as { PistonClient: typeof PistonApiClient };

interface PistonRun {
  stdout: string;
  stderr: string;
  output: string;
  code: number | null;
  signal: string | null;
  status: string | null;
  message: string | null;
  memory: number | null;
  cpu_time: number | null;
  wall_time: number | null;
}
interface PistonAnswer {
  language: string;
  version: string;
  run: PistonRun;
}

describe('Piston clients against a live stack', () => {
  let stack: Stack;
  let url = '';
  let client: ReturnType<typeof piston>;
  let apiClient: PistonApiClient;
  before(async () => {
    stack = await startStack({
      env: { SBX_SELF_CHECK: 'off', SBX_WORKER_CONCURRENCY: '2', SBX_POOL_MIN: '2', SBX_POOL_MAX: '2' },
    });
    await stack.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(stack.app.server.address() as AddressInfo).port}`;
    client = piston({ server: url });
    // Its runtimes cache is forgotten by a timer (a day by default) that would keep this process alive.
    apiClient = new PistonClient({ server: url, cacheTime: 1 });
  });
  after(async () => {
    await stack.stop();
  });

  /** piston-api-client's execute, its envelope opened. */
  async function execute(body: Parameters<PistonApiClient['execute']>[0]): Promise<PistonAnswer> {
    const answer = await apiClient.execute(body);
    assert.ok(answer.success, `piston-api-client failed: ${JSON.stringify(answer)}`);
    return answer.data as unknown as PistonAnswer;
  }

  test('runtimes: python with its aliases, through both clients', async () => {
    const runtimes = (await client.runtimes()) as { language: string; version: string; aliases: string[] }[];
    const python = runtimes.find((r) => r.language === 'python');
    assert.ok(python, JSON.stringify(runtimes));
    assert.match(python.version, /^3\.11\.\d+$/);
    assert.deepEqual(python.aliases, ['py', 'py3', 'python3']);
    const listed = await apiClient.runtimes();
    assert.ok(listed.success);
    assert.deepEqual(listed.data, runtimes);
  });

  test("piston-client's defaults run: a print, and args 1 2 3 in sys.argv", async () => {
    const answer = (await client.execute('python', 'import sys\nprint("hello", sys.argv[1:])')) as PistonAnswer;
    assert.equal(answer.language, 'python');
    assert.match(answer.version, /^3\.11\.\d+$/);
    assert.equal(answer.run.stdout, "hello ['1', '2', '3']\n");
    assert.equal(answer.run.output, answer.run.stdout);
    assert.equal(answer.run.code, 0);
    assert.equal(answer.run.signal, null);
    assert.equal(answer.run.status, null);
    assert.equal(answer.run.stderr, '');
    assert.ok(typeof answer.run.wall_time === 'number' && typeof answer.run.memory === 'number');
    assert.equal('compile' in answer, false, 'Python has no compile stage');
  });

  // piston-client finds the version by the language's own name (not an alias): 'python'.
  test('stdin, and args given, through piston-client', async () => {
    const answer = (await client.execute('python', 'import sys\nprint(input()[::-1], sys.argv[1:])', {
      stdin: 'abc',
      args: ['x y'],
    })) as PistonAnswer;
    assert.equal(answer.run.stdout, "cba ['x y']\n");
  });

  test('a timeout is TO with SIGKILL', async () => {
    const answer = await execute({
      language: 'python',
      version: '*',
      files: [{ content: 'while True:\n    pass' }],
      run_timeout: 500,
    });
    assert.equal(answer.run.status, 'TO', JSON.stringify(answer.run));
    assert.equal(answer.run.signal, 'SIGKILL');
    assert.equal(answer.run.code, null);
  });

  test('a memory bomb is SG with SIGKILL, our message saying which limit', async () => {
    const answer = await execute({
      language: 'python',
      version: '3.x',
      files: [{ content: 'a = []\nwhile True:\n    a.append(bytearray(10**6))' }],
      run_memory_limit: 64 * 1024 * 1024,
    });
    assert.equal(answer.run.status, 'SG', JSON.stringify(answer.run));
    assert.equal(answer.run.signal, 'SIGKILL');
    assert.match(answer.run.message ?? '', /memory/i);
  });

  test('an exception is RE with its exit code, the traceback on stderr', async () => {
    const answer = await execute({
      language: 'python3',
      version: '*',
      files: [{ content: 'print("before")\nraise ValueError("boom")' }],
    });
    assert.equal(answer.run.status, 'RE', JSON.stringify(answer.run));
    assert.equal(answer.run.code, 1);
    assert.equal(answer.run.message, 'Exited with error status 1');
    assert.equal(answer.run.stdout, 'before\n');
    assert.match(answer.run.stderr, /ValueError: boom/);
    assert.ok(answer.run.output.startsWith('before\n') && answer.run.output.includes('ValueError: boom'));
  });

  test('a file pair: the entry imports the module beside it and reads a base64 file', async () => {
    const answer = await execute({
      language: 'python',
      version: '*',
      files: [
        { name: 'main.py', content: 'import helper\nprint(helper.greet(open("name.txt").read()))' },
        { name: 'helper.py', content: 'def greet(name):\n    return "hi " + name' },
        { name: 'name.txt', content: Buffer.from('world').toString('base64'), encoding: 'base64' },
      ],
    });
    assert.equal(answer.run.stdout, 'hi world\n', JSON.stringify(answer.run));
    assert.equal(answer.run.code, 0);
  });

  test('the WebSocket: runtime, stage, output as it comes, input as it is sent, exit, 4999', async () => {
    const socket = new WebSocket(`${url.replace('http', 'ws')}/api/v2/connect`);
    await once(socket, 'open');
    const messages: Record<string, unknown>[] = [];
    const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    const asked = new Promise<void>((resolve) =>
      socket.on('message', (raw) => {
        const message = JSON.parse(String(raw)) as Record<string, unknown>;
        messages.push(message);
        if (message.type === 'data' && String(message.data).includes('name?')) resolve();
      }),
    );
    const code = "print('name?', flush=True)\nname = input()\nprint('hi', name)";
    socket.send(JSON.stringify({ type: 'init', language: 'python', version: '*', files: [{ content: code }] }));
    await asked;
    socket.send(JSON.stringify({ type: 'data', stream: 'stdin', data: 'bob\n' }));
    assert.equal(await closed, 4999, JSON.stringify(messages));
    const stdout = messages
      .filter((m) => m.type === 'data' && m.stream === 'stdout')
      .map((m) => m.data)
      .join('');
    assert.equal(stdout, 'name?\nhi bob\n');
    assert.deepEqual(
      messages.filter((m) => m.type !== 'data'),
      [
        { type: 'runtime', language: 'python', version: messages[0]?.version },
        { type: 'stage', stage: 'run' },
        { type: 'exit', stage: 'run', code: 0, signal: null },
      ],
    );
  });

  test('the WebSocket: a signal stops the program, and exit names it', async () => {
    const socket = new WebSocket(`${url.replace('http', 'ws')}/api/v2/piston/connect`);
    await once(socket, 'open');
    const messages: Record<string, unknown>[] = [];
    const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    const started = new Promise<void>((resolve) =>
      socket.on('message', (raw) => {
        const message = JSON.parse(String(raw)) as Record<string, unknown>;
        messages.push(message);
        if (message.type === 'data') resolve();
      }),
    );
    const code = "import time\nprint('up', flush=True)\nwhile True:\n    time.sleep(0.05)";
    socket.send(JSON.stringify({ type: 'init', language: 'python', version: '*', files: [{ content: code }] }));
    await started;
    socket.send(JSON.stringify({ type: 'signal', signal: 'SIGTERM' }));
    assert.equal(await closed, 4999, JSON.stringify(messages));
    assert.deepEqual(messages.at(-1), { type: 'exit', stage: 'run', code: null, signal: 'SIGTERM' });
  });
});
