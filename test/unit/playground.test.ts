/**
 * The playground page's pure parts, in Node: the SSE parser, following a job's events through a
 * dropped connection, the share-link encoding, the stdin offsets, what Run submits, and the wording.
 * The page itself runs in a real browser in test/sandbox/playground.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Api, ApiFailure } from '@sbx/playground/page/api';
import { followJob, type JobStreamEvent } from '@sbx/playground/page/events';
import { formatMemory, formatSeconds, queuedLabel, splitUtf8, statusLabel } from '@sbx/playground/page/format';
import { InputSender, type StdinBody } from '@sbx/playground/page/input';
import { submission, wantsInteractive } from '@sbx/playground/page/job-request';
import { decodeShare, encodeShare, type SharedProgram } from '@sbx/playground/page/share';
import { SseParser } from '@sbx/playground/page/sse';
import type { Info } from '@sbx/playground/page/wire';

describe('SSE parser', () => {
  test('events split anywhere, in CRLF, LF and CR, with comments, ids and multi-line data', () => {
    const stream =
      ': hello\r\nid: 1-1\r\nevent: stdout\r\ndata: {"text":"a"}\r\n\r\nid: 1-2\revent: stderr\rdata: x\rdata: y\r\r';
    for (let cut = 0; cut <= stream.length; cut++) {
      const parser = new SseParser();
      const events = [...parser.push(stream.slice(0, cut)), ...parser.push(stream.slice(cut))];
      assert.deepEqual(
        events,
        [
          { event: 'stdout', data: '{"text":"a"}', lastEventId: '1-1' },
          { event: 'stderr', data: 'x\ny', lastEventId: '1-2' },
        ],
        `cut at ${cut}`,
      );
      assert.equal(parser.lastEventId, '1-2');
    }
  });

  test('a BOM, no space after the colon, an event with no data, retry, an unknown field', () => {
    const parser = new SseParser('0-9');
    const events = parser.push('\ufeffevent:status\ndata:{}\n\nid: 2-1\n\nretry: 1500\nfoo: bar\ndata\n\n');
    assert.deepEqual(events, [
      { event: 'status', data: '{}', lastEventId: '0-9' },
      { event: 'message', data: '', lastEventId: '2-1' },
    ]);
    assert.equal(parser.retryMs, 1500);
  });

  test('an event not ended by a blank line is never dispatched', () => {
    const parser = new SseParser();
    assert.deepEqual(parser.push('id: 1-0\n\nid: 1-1\nevent: stdout\ndata: cut off\n'), []);
    assert.equal(parser.lastEventId, '1-0', 'a resume asks for 1-1 again');
  });
});

/** A fetch whose answers are scripted per call: each a list of body chunks, or a status. */
function scriptedFetch(answers: (string[] | number | Error)[]) {
  const calls: { url: string; headers: Record<string, string> }[] = [];
  const fetch = async (url: string, init?: RequestInit): Promise<Response> => {
    calls.push({ url, headers: { ...(init?.headers as Record<string, string>) } });
    const answer = answers.shift();
    if (answer === undefined) throw new Error('no more answers scripted');
    if (answer instanceof Error) throw answer;
    if (typeof answer === 'number')
      return new Response(answer === 204 ? null : JSON.stringify({ statusCode: answer, code: 'x', message: 'no' }), {
        status: answer,
      });
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of answer) controller.enqueue(new TextEncoder().encode(chunk));
        controller.close();
      },
    });
    return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
  };
  return { fetch, calls };
}

describe('following a job', () => {
  test('a dropped connection resumes after the last event id, and a partial event is not shown twice', async () => {
    const { fetch, calls } = scriptedFetch([
      ['id: 1-1\nevent: stdout\ndata: {"text":"one\\n"}\n\n', 'id: 1-2\nevent: stdout\ndata: {"te'],
      new Error('connection reset'),
      [
        'id: 1-2\nevent: stdout\ndata: {"text":"two\\n"}\n\nid: 1-3\nevent: result\ndata: {"id":"j","state":"completed"}\n\n',
      ],
    ]);
    const api = new Api({ key: () => 'k1', base: 'http://api/', fetch });
    const seen: JobStreamEvent[] = [];
    const reconnects: number[] = [];
    const outcome = await followJob(api, 'j', {
      signal: new AbortController().signal,
      onEvent: (e) => seen.push(e),
      onReconnect: (n) => reconnects.push(n),
      baseDelayMs: 1,
    });
    assert.equal(outcome, 'result');
    assert.deepEqual(
      seen.map((e) => [e.type, e.id]),
      [
        ['stdout', '1-1'],
        ['stdout', '1-2'],
        ['result', '1-3'],
      ],
    );
    assert.equal(calls[0]?.url, 'http://api/jobs/j/events');
    assert.equal(calls[0]?.headers.authorization, 'Bearer k1');
    assert.equal(calls[0]?.headers['last-event-id'], undefined);
    assert.equal(calls[1]?.headers['last-event-id'], '1-1', 'the cut event 1-2 was never complete');
    assert.equal(calls[2]?.headers['last-event-id'], '1-1');
    assert.deepEqual(reconnects, [1, 2]);
  });

  test('204 means the viewer has it all; 401 and 404 are not retried', async () => {
    const done = scriptedFetch([204]);
    const signal = new AbortController().signal;
    const api = (fetch: typeof done.fetch) => new Api({ key: () => '', fetch });
    assert.equal(await followJob(api(done.fetch), 'j', { signal, onEvent: () => {} }), 'finished');
    for (const status of [401, 404]) {
      const refused = scriptedFetch([status, ['never read']]);
      await assert.rejects(
        followJob(api(refused.fetch), 'j', { signal, onEvent: () => {}, baseDelayMs: 1 }),
        (err: unknown) => err instanceof ApiFailure && err.status === status,
      );
      assert.equal(refused.calls.length, 1);
    }
  });
});

describe('share links', () => {
  test('a program survives the trip through the fragment, unicode and tests included', async () => {
    const program: SharedProgram = {
      code: 'print("héllo, 世界 🐍")\n'.repeat(50),
      environment: 'python-data',
      stdin: '3\n',
      tests: [{ stdin: '1 2', expected_output: '3' }],
    };
    const fragment = await encodeShare(program);
    assert.match(fragment, /^s=[A-Za-z0-9_-]+$/, 'URL-safe, no padding');
    assert.ok(fragment.length < 400, `compressed (${fragment.length} chars)`);
    assert.deepEqual(await decodeShare(`#${fragment}`), program);
    assert.deepEqual(await decodeShare(fragment), program);
  });

  test('empty fields stay out; a fragment that is not ours, or is damaged, decodes to null', async () => {
    assert.deepEqual(await decodeShare(await encodeShare({ code: 'x', stdin: '', tests: [] })), { code: 'x' });
    for (const bad of ['', '#', '#other=1', '#s=!!!', '#s=AAAA', `#s=${'A'.repeat(10)}`])
      assert.equal(await decodeShare(bad), null, bad);
  });
});

describe('interactive input', () => {
  test('offsets count UTF-8 bytes, calls go one at a time, a lost answer is retried as it was', async () => {
    const bodies: StdinBody[] = [];
    let server = 0;
    let lose = true;
    const sender = new InputSender({
      retryDelayMs: 1,
      post: async (body) => {
        bodies.push(body);
        if ('data' in body && body.offset === server) server += Buffer.byteLength(body.data);
        if (body.offset === 0 && lose) {
          lose = false;
          throw new Error('answer lost');
        }
        return { offset: server, eof: 'eof' in body };
      },
    });
    await Promise.all([sender.send('é\n'), sender.send('ok\n')]);
    assert.deepEqual(bodies, [
      { data: 'é\n', offset: 0 },
      { data: 'é\n', offset: 0 },
      { data: 'ok\n', offset: 3 },
    ]);
    assert.equal(sender.accepted, 6);
    await sender.eof();
    assert.deepEqual(bodies.at(-1), { eof: true, offset: 6 });
    assert.ok(sender.isClosed);
  });

  test('a refusal ends input once; long text is split under the per-call cap', async () => {
    const closed: string[] = [];
    const sizes: number[] = [];
    const sender = new InputSender({
      maxCallBytes: 8,
      post: async (body) => {
        if ('data' in body) sizes.push(Buffer.byteLength(body.data));
        if (sizes.length === 3) throw new ApiFailure(409, 'job_finished', 'the job has finished');
        return { offset: body.offset + ('data' in body ? Buffer.byteLength(body.data) : 0), eof: false };
      },
      onClosed: (f) => closed.push(f.code),
    });
    await sender.send('ééééé€€€€');
    assert.deepEqual(sizes, [8, 8, 6], 'éééé, é€€, €€: never inside a character');
    await sender.send('more');
    assert.deepEqual(closed, ['job_finished']);
    assert.deepEqual(splitUtf8('a🐍b', 4), ['a', '🐍', 'b']);
  });
});

describe('what Run submits, and how results read', () => {
  const info = (interactive: boolean, lanes: string[] = ['interactive', 'batch']) =>
    ({
      lanes,
      limits: interactive ? { interactive: { wall_ms: 60000, idle_input_ms: 30000 } } : {},
    }) as unknown as Info;

  test('interactive only when the server lists it and there are no tests; the interactive lane when allowed', () => {
    const plain = { code: 'print(1)', environment: 'python', stdin: '', tests: null };
    assert.deepEqual(submission(plain, info(true), wantsInteractive(plain, info(true))), {
      code: 'print(1)',
      environment: 'python',
      lane: 'interactive',
      interactive: true,
    });
    assert.equal(wantsInteractive(plain, info(false)), false);
    const judged = { ...plain, stdin: '5', tests: [{ stdin: '1', expected_output: '1' }] };
    assert.equal(wantsInteractive(judged, info(true)), false);
    assert.deepEqual(submission(judged, info(false, ['batch']), false), {
      code: 'print(1)',
      environment: 'python',
      stdin: '5',
      tests: [{ stdin: '1', expected_output: '1' }],
    });
  });

  test('labels and figures', () => {
    assert.deepEqual(statusLabel('ok'), { label: 'OK', tone: 'good' });
    assert.deepEqual(statusLabel('cancelled'), { label: 'Stopped', tone: 'neutral' });
    assert.equal(formatSeconds(0.0123), '12 ms');
    assert.equal(formatSeconds(1.234), '1.23 s');
    assert.equal(formatMemory(null), '—');
    assert.equal(formatMemory(900), '900 KiB');
    assert.equal(formatMemory(12_595), '12.3 MiB');
    assert.equal(queuedLabel(0, null), 'Queued · next');
    assert.equal(queuedLabel(3, 1.5), 'Queued · 3 ahead · ~1.50 s');
  });
});
