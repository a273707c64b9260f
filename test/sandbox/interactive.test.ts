/**
 * Interactive input and line-buffered output through real gVisor sandboxes, from POST /jobs to the
 * live events a page reads (GET /jobs/:id/events over a listening server): input sent after the
 * program started reaches its input(), eof raises EOFError, the idle-input and wall-clock bounds end
 * a run as timeout naming the bound while waiting for input costs no CPU time, a flood of input a
 * program never reads stalls nothing, and print-sleep-print shows its first line a second early.
 * Warm sandboxes serve interactive jobs as they serve any.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { RunResult } from '@sbx/shared';
import { eventually } from '../support/poll.js';
import { openEvents, type SseEvent, type SseStream } from '../support/sse.js';
import { type Stack, startStack } from '../support/stack.js';

const IDLE_MS = 1500;
const WALL_MS = 4000;

describe('interactive jobs and line-buffered output (real sandboxes)', () => {
  let stack: Stack;
  let base: string;

  before(async () => {
    stack = await startStack({
      env: {
        SBX_INTERACTIVE_IDLE_MS: String(IDLE_MS),
        SBX_INTERACTIVE_WALL_MS: String(WALL_MS),
        // A warm sandbox for most jobs: an interactive job takes one as any other does.
        SBX_POOL_MIN: '1',
        SBX_POOL_MAX: '2',
      },
    });
    await stack.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(stack.app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await stack.stop();
  });

  async function submit(body: Record<string, unknown>): Promise<string> {
    const res = await fetch(`${base}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 202, await res.clone().text());
    return ((await res.json()) as { id: string }).id;
  }

  async function send(id: string, body: Record<string, unknown>) {
    const res = await fetch(`${base}/jobs/${id}/stdin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  /** Events up to and including the first that `until` accepts, each with when it arrived. */
  async function until(events: SseStream, stop: (e: SseEvent) => boolean, timeoutMs = 20_000) {
    const seen: (SseEvent & { at: number })[] = [];
    for (;;) {
      const event = await events.next(timeoutMs);
      assert.ok(event, `the stream ended before the awaited event; had ${JSON.stringify(seen.map((e) => e.event))}`);
      seen.push({ ...event, at: performance.now() });
      if (stop(event)) return seen;
    }
  }

  const isResult = (e: SseEvent) => e.event === 'result';
  const resultOf = (events: SseEvent[]) =>
    (events.at(-1)?.data as { result: RunResult } | undefined)?.result as RunResult;
  const stdoutOf = (events: SseEvent[]) =>
    events
      .filter((e) => e.event === 'stdout')
      .map((e) => (e.data as { text: string }).text)
      .join('');

  /** A warm sandbox waits in the pool (the pool's gauge says so). */
  const warmReady = () =>
    eventually(
      async () => {
        const m = await stack.worker?.metrics.registry.getSingleMetricAsString('sbx_pool_size');
        return Number(/state="idle",environment="python"} (\d+)/.exec(m ?? '')?.[1] ?? 0) > 0;
      },
      20_000,
      100,
    );

  test('input() gets a line sent after the program started; its prompt shows first', async () => {
    assert.ok(await warmReady(), 'a warm sandbox is ready');
    const id = await submit({ code: "name = input('name? ')\nprint('hi', name)", interactive: true });
    const events = await openEvents(`${base}/jobs/${id}/events`);
    const prompt = await until(events, (e) => e.event === 'stdout');
    assert.equal(stdoutOf(prompt), 'name? ', 'the prompt, while the program waits');
    assert.deepEqual((await send(id, { data: 'Ada\n', offset: 0 })).body, { offset: 4, eof: false });
    const rest = await until(events, isResult);
    assert.equal(stdoutOf(rest), 'hi Ada\n');
    const result = resultOf(rest);
    assert.equal(result.status, 'ok', JSON.stringify(result));
    assert.equal(result.stdout, 'name? hi Ada\n');
    assert.equal(result.stages?.warm, true, 'it ran in a warm sandbox');
    const late = await send(id, { data: 'more\n', offset: 4 });
    assert.equal(late.status, 409);
    assert.equal(late.body.code, 'job_finished');
  });

  test("the body's stdin comes first; eof makes input() raise EOFError; bytes arrive exactly", async () => {
    const code = [
      'import sys',
      'print(input())',
      'print(repr(sys.stdin.buffer.readline()))',
      'try:\n    input()\nexcept EOFError:\n    print("EOFError")',
    ].join('\n');
    const id = await submit({ code, stdin: 'first\n', interactive: true });
    const events = await openEvents(`${base}/jobs/${id}/events`);
    await until(events, (e) => e.event === 'stdout');
    const data = '\u0000é\ud800\n';
    assert.deepEqual((await send(id, { data, offset: 0 })).body, { offset: 7, eof: false });
    await send(id, { data, offset: 0 });
    assert.deepEqual((await send(id, { eof: true, offset: 7 })).body, { offset: 7, eof: true });
    const result = resultOf(await until(events, isResult));
    assert.equal(result.status, 'ok', JSON.stringify(result));
    assert.equal(
      result.stdout,
      "first\nb'\\x00\\xc3\\xa9\\xef\\xbf\\xbd\\n'\nEOFError\n",
      'a repeated call appended nothing',
    );
  });

  test('no input for the idle bound ends a program waiting forever: timeout naming it, little CPU', async () => {
    const id = await submit({ code: 'input()', interactive: true });
    const events = await openEvents(`${base}/jobs/${id}/events`);
    const result = resultOf(await until(events, isResult));
    assert.equal(result.status, 'timeout');
    assert.equal(result.message, `no input for ${IDLE_MS} ms: the idle-input limit of an interactive job`);
    assert.ok(result.time >= IDLE_MS / 1000 && result.time < IDLE_MS / 1000 + 1, `time ${result.time}`);
    assert.ok((result.cpu_time ?? 1) < 0.5, `waiting used ${result.cpu_time} s of CPU`);
  });

  test('waiting for input longer than the time limit is no timeout: the limit bounds CPU time', async () => {
    const code = "x = input('ready\\n')\nprint(x)\nwhile True:\n    pass";
    const id = await submit({ code, interactive: true, limits: { time_ms: 500 } });
    const events = await openEvents(`${base}/jobs/${id}/events`);
    await until(events, (e) => e.event === 'stdout');
    await new Promise((r) => setTimeout(r, 1200));
    await send(id, { data: 'late\n', offset: 0 });
    const rest = await until(events, isResult);
    assert.equal(stdoutOf(rest), 'late\n', 'it got its input after twice its time limit');
    const result = resultOf(rest);
    assert.equal(result.status, 'timeout', 'then it spun past its CPU time');
    assert.match(result.message ?? '', /^time limit of 500 ms exceeded: the program's threads used 0\.\d s of CPU$/);
    assert.ok(result.time > 1.5, `waited 1.2 s, then spun about 0.5 s: time ${result.time}`);
  });

  test('input that keeps coming holds the idle bound off until the wall-clock bound', async () => {
    const id = await submit({ code: 'while True:\n    print(input())', interactive: true });
    const events = await openEvents(`${base}/jobs/${id}/events`);
    let offset = 0;
    const feeding = (async () => {
      for (let i = 0; i < 20; i++) {
        const res = await send(id, { data: `${i}\n`, offset });
        if (res.status !== 200) return;
        offset = res.body.offset as number;
        await new Promise((r) => setTimeout(r, 400));
      }
    })();
    const result = resultOf(await until(events, isResult));
    await feeding;
    assert.equal(result.status, 'timeout');
    assert.equal(result.message, `wall-clock limit of ${WALL_MS} ms for an interactive job exceeded`);
    assert.ok(result.stdout.startsWith('0\n1\n2\n3\n'), result.stdout);
  });

  test('a program that never reads its stdin while input floods in runs and prints as usual', async () => {
    const code = 'import time\nfor i in range(5):\n    print(i)\n    time.sleep(0.3)';
    const id = await submit({ code, interactive: true });
    const events = await openEvents(`${base}/jobs/${id}/events`);
    await until(events, (e) => e.event === 'stdout');
    const chunk = 'z'.repeat(64 * 1024);
    let offset = 0;
    const statuses: number[] = [];
    for (let i = 0; i < 16; i++) {
      const res = await send(id, { data: chunk, offset });
      statuses.push(res.status);
      if (res.status === 200) offset = res.body.offset as number;
    }
    const rest = await until(events, isResult);
    const result = resultOf(rest);
    assert.equal(result.status, 'ok', JSON.stringify({ ...result, stdout: result.stdout.slice(0, 100) }));
    assert.equal(result.stdout, '0\n1\n2\n3\n4\n');
    assert.ok(result.time < 3, `time ${result.time}`);
    assert.ok(
      statuses.every((s) => s === 200 || s === 409),
      statuses.join(),
    );
    assert.ok(offset >= 64 * 1024, 'input was accepted while it ran');
  });

  test("print, sleep, print: the first line's event comes a second before the second's, no flush", async () => {
    const id = await submit({ code: "import time\nprint('x')\ntime.sleep(1)\nprint('y')" });
    const events = await openEvents(`${base}/jobs/${id}/events`);
    const seen = await until(events, isResult);
    const outputs = seen.filter((e) => e.event === 'stdout');
    assert.deepEqual(
      outputs.map((e) => (e.data as { text: string }).text),
      ['x\n', 'y\n'],
    );
    const gap = (outputs[1]?.at ?? 0) - (outputs[0]?.at ?? 0);
    assert.ok(gap >= 700, `the first line came ${Math.round(gap)} ms before the second`);
    assert.equal(resultOf(seen).status, 'ok');
  });
});
