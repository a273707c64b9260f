/**
 * The TypeScript client's live events and interactive input against a scripted fetch: SSE parsing,
 * resuming with Last-Event-ID, backoff, 204, AbortSignal, and input offsets. No server.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type JobStreamEvent, SbxApiError, SbxClient, SseParser } from '@sbx/client';

const utf8 = new TextEncoder();
const VIEW = { id: 'j1', state: 'completed', result: { id: 'j1', status: 'ok', stdout: 'a\nb\n' } };
type Ev = [id: string | undefined, type: string, data: unknown];
const EVENTS: Ev[] = [
  [undefined, 'status', { state: 'queued', position: 0, eta_seconds: null }],
  ['1-0', 'status', { state: 'running', attempt: 1 }],
  ['1-1', 'stdout', { text: 'a\n' }],
  ['1-2', 'stderr', { text: 'é\n' }],
  ['1-3', 'stdout', { text: 'b\n' }],
  ['1-4', 'result', VIEW],
];

const frame = ([id, type, data]: Ev, retry?: number) =>
  `${retry ? `retry: ${retry}\n` : ''}${id ? `id: ${id}\n` : ''}event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;

/** The events after `lastId` (all without one). */
const after = (lastId: string | null) => {
  const at = lastId === null ? -1 : EVENTS.findIndex(([id]) => id === lastId);
  return EVENTS.slice(at + 1);
};

/**
 * An SSE response: `count` events (all by default), then half of the next one and a broken connection
 * (`inside`), or the end of the response. `cancelled` tells whether the reader let go of it.
 */
function sseResponse(
  events: Ev[],
  opts: { count?: number; inside?: boolean; retry?: number; headers?: Record<string, string> } = {},
) {
  const state = { cancelled: false };
  const count = opts.count ?? events.length;
  const chunks = events.slice(0, count).map((e, i) => frame(e, i === 0 ? opts.retry : undefined));
  const next = events[count];
  if (opts.inside && next) chunks.push(frame(next).slice(0, frame(next).length / 2));
  // Chunk by chunk as the reader asks: an error raised at once would discard what is still queued.
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      const chunk = chunks.shift();
      if (chunk !== undefined) c.enqueue(utf8.encode(chunk));
      else if (opts.inside) c.error(new TypeError('terminated'));
      else if (opts.count !== Infinity) c.close();
      else return new Promise<void>(() => {});
    },
    cancel() {
      state.cancelled = true;
    },
  });
  const res = new Response(body, { headers: { 'content-type': 'text/event-stream', ...opts.headers } });
  return Object.assign(res, { state });
}

/** A fetch answering in turn with what `answer` makes of each request; records what was asked. */
function scripted(
  answer: (req: {
    method: string;
    url: string;
    headers: Headers;
    n: number;
    signal?: AbortSignal | null;
  }) => Response | Promise<Response>,
) {
  const asked: { method: string; url: string; headers: Headers; body?: string }[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const headers = new Headers(init?.headers);
    const req = { method: init?.method ?? 'GET', url: String(input), headers };
    asked.push({ ...req, ...(typeof init?.body === 'string' ? { body: init.body } : {}) });
    return answer({ ...req, n: asked.length, signal: init?.signal });
  };
  return { asked, fetch };
}

const collect = async (stream: AsyncIterable<JobStreamEvent>) => {
  const out: JobStreamEvent[] = [];
  for await (const e of stream) out.push(e);
  return out;
};
const expected = EVENTS.map(([id, type, data]) => ({ type, data, ...(id ? { id } : {}) }));

describe('SseParser', () => {
  test('fields, comments, retry and data over several lines', () => {
    const parser = new SseParser();
    const got = parser.feed(': heartbeat\n\nretry: 250\nid: 1-0\nevent: stdout\ndata: {"text":\ndata:  "x"}\n\n');
    assert.deepEqual(got, [{ event: 'stdout', data: '{"text":\n "x"}', id: '1-0' }]);
    assert.deepEqual([parser.retryMs, parser.lastEventId], [250, '1-0']);
  });

  test('any line ending, even split between reads; an id is kept across events without one', () => {
    const parser = new SseParser();
    const text = 'id: 1-0\r\nevent: stdout\rdata: {}\r\n\r\nevent: run\ndata: {}\n\n';
    const got = [...text].flatMap((c) => parser.feed(c));
    assert.deepEqual(got, [
      { event: 'stdout', data: '{}', id: '1-0' },
      { event: 'run', data: '{}' },
    ]);
    assert.equal(parser.lastEventId, '1-0');
  });

  test('a block cut off before its blank line is never an event, nor its id', () => {
    const parser = new SseParser();
    assert.deepEqual(parser.feed('id: 2-0\nevent: stdout\ndata: {"text": "cut"}\n'), []);
    assert.equal(parser.lastEventId, undefined);
  });
});

describe('SbxClient.stream', () => {
  test('a cut stream resumes after the last event delivered, with no gap or repeat, after the server’s retry:', async () => {
    const { asked, fetch } = scripted(({ headers, n }) => {
      const events = after(headers.get('last-event-id'));
      if (n === 1) return sseResponse(events, { count: 3, inside: true, retry: 60 });
      if (n === 2) return sseResponse(events, { count: 1, retry: 60 });
      return sseResponse(events);
    });
    const stream = new SbxClient({ baseUrl: 'http://sbx', apiKey: 'k', fetch }).stream('j1');
    const started = Date.now();
    assert.deepEqual(await collect(stream), expected);
    assert.ok(Date.now() - started >= 110, `waited the server's retry: twice (${Date.now() - started} ms)`);
    assert.deepEqual(
      asked.map((a) => a.headers.get('last-event-id')),
      [null, '1-1', '1-2'],
    );
    assert.equal(asked[0]?.url, 'http://sbx/jobs/j1/events');
    assert.equal(asked[0]?.headers.get('authorization'), 'Bearer k');
    assert.deepEqual([stream.jobId, stream.lastEventId, stream.result], ['j1', '1-4', VIEW.result]);
  });

  test('reconnections are bounded and back off; the last error is thrown', async () => {
    const { asked, fetch } = scripted(() => sseResponse(EVENTS, { count: 1, retry: 10 }));
    const started = Date.now();
    await assert.rejects(collect(new SbxClient({ baseUrl: 'http://sbx', fetch }).stream('j1', { retries: 2 })), (e) => {
      return e instanceof TypeError && /ended before its result/.test(e.message);
    });
    assert.equal(asked.length, 3);
    assert.ok(Date.now() - started >= 30, 'waited 10 then 20 ms');
  });

  test('lastEventId resumes from there; a 204 ends the stream at once', async () => {
    const { fetch } = scripted(({ headers }) => sseResponse(after(headers.get('last-event-id'))));
    const sbx = new SbxClient({ baseUrl: 'http://sbx', fetch });
    const ids = (await collect(sbx.stream('j1', { lastEventId: '1-2' }))).map((e) => e.id);
    assert.deepEqual(ids, ['1-3', '1-4']);
    const done = new SbxClient({ baseUrl: 'http://sbx', fetch: async () => new Response(null, { status: 204 }) });
    const stream = done.stream('j1', { lastEventId: '1-4' });
    assert.deepEqual(await collect(stream), []);
    assert.equal(stream.result, undefined);
  });

  test('a refusal is thrown at once; a briefly unavailable queue is asked again', async () => {
    const refusal = (status: number, code: string) =>
      Response.json({ statusCode: status, code, message: code }, { status });
    const { asked, fetch } = scripted(({ n }) =>
      n === 1 ? refusal(503, 'queue_unavailable') : refusal(404, 'not_found'),
    );
    const stream = new SbxClient({ baseUrl: 'http://sbx', fetch }).stream('j1');
    await assert.rejects(collect(stream), (e) => e instanceof SbxApiError && e.code === 'not_found');
    assert.equal(asked.length, 2);
  });

  test('a silent connection counts as dropped', async () => {
    const { asked, fetch } = scripted(({ n }) =>
      n === 1 ? sseResponse([], { count: Infinity }) : sseResponse(EVENTS),
    );
    const events = await collect(new SbxClient({ baseUrl: 'http://sbx', fetch }).stream('j1', { idleTimeoutMs: 50 }));
    assert.equal(events.at(-1)?.type, 'result');
    assert.equal(asked.length, 2);
  });

  test('time the caller spends on an event is not silence', async () => {
    const { asked, fetch } = scripted(() => sseResponse(EVENTS));
    const stream = new SbxClient({ baseUrl: 'http://sbx', fetch }).stream('j1', { idleTimeoutMs: 30 });
    const seen: JobStreamEvent[] = [];
    for await (const e of stream) {
      seen.push(e);
      await new Promise((r) => setTimeout(r, 60));
    }
    assert.equal(seen.length, EVENTS.length);
    assert.equal(asked.length, 1, 'one connection');
  });

  test('an AbortSignal ends the stream with its reason and lets go of the connection; so does leaving the loop', async () => {
    let fetchSignal: AbortSignal | null | undefined;
    // Two events, then the connection stays open and quiet.
    const { fetch } = scripted(({ signal }) => {
      fetchSignal = signal;
      return sseResponse(EVENTS.slice(0, 2), { count: Infinity });
    });
    const controller = new AbortController();
    const stream = new SbxClient({ baseUrl: 'http://sbx', fetch }).stream('j1', { signal: controller.signal });
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const e of stream) {
          seen.push(e.type);
          if (seen.length === 2) setTimeout(() => controller.abort(), 10);
        }
      })(),
      (e) => e instanceof Error && e.name === 'AbortError',
    );
    assert.deepEqual(seen, ['status', 'status']);
    assert.equal(fetchSignal?.aborted, true, 'the connection was closed');

    let res: ReturnType<typeof sseResponse> | undefined;
    const leaving = new SbxClient({
      baseUrl: 'http://sbx',
      fetch: async () => {
        res = sseResponse(EVENTS, { count: Infinity });
        return res;
      },
    });
    for await (const e of leaving.stream('j1')) if (e.type === 'stdout') break;
    assert.equal(res?.state.cancelled, true, 'breaking out of the loop closed the connection');
  });

  test('a new submission streams in one round trip, then resumes by its job id; a failed POST is asked again with the same key', async () => {
    const { asked, fetch } = scripted(({ method, headers, n }) => {
      if (method === 'POST' && n === 1) throw new TypeError('fetch failed');
      if (method === 'POST')
        return sseResponse(EVENTS, { count: 3, inside: true, retry: 10, headers: { location: '/jobs/j1' } });
      return sseResponse(after(headers.get('last-event-id')));
    });
    const stream = new SbxClient({ baseUrl: 'http://sbx', fetch }).stream({ code: 'print(1)', stdin: 'x' });
    assert.deepEqual(await collect(stream), expected);
    assert.deepEqual(
      asked.map((a) => [a.method, a.url.replace('http://sbx', ''), a.headers.get('last-event-id')]),
      [
        ['POST', '/run', null],
        ['POST', '/run', null],
        ['GET', '/jobs/j1/events', '1-1'],
      ],
    );
    assert.equal(asked[0]?.headers.get('accept'), 'text/event-stream');
    assert.equal(asked[0]?.headers.get('idempotency-key'), asked[1]?.headers.get('idempotency-key'));
    assert.deepEqual(JSON.parse(asked[0]?.body ?? ''), { code: 'print(1)', stdin: 'x' });
    assert.equal(stream.jobId, 'j1');
  });
});

describe('SbxClient.sendInput / closeInput', () => {
  /** POST /jobs/:id/stdin by the contract; the calls numbered in `lose` are accepted, then their answer is lost. */
  function stdinServer(lose: number[]) {
    const state = {
      input: Buffer.alloc(0),
      eof: false,
      calls: [] as { data?: string; offset: number; eof?: boolean }[],
    };
    const fetch: typeof globalThis.fetch = async (_input, init) => {
      const body = JSON.parse(String(init?.body)) as { data?: string; offset: number; eof?: boolean };
      state.calls.push(body);
      const have = state.input.length;
      let res: Response;
      if (state.eof) res = Response.json({ statusCode: 409, code: 'stdin_closed', message: 'closed' }, { status: 409 });
      else if (body.offset > have)
        res = Response.json({ statusCode: 409, code: 'stdin_gap', message: 'gap' }, { status: 409 });
      else {
        const data = Buffer.from(body.data ?? '');
        state.input = Buffer.concat([state.input, data.subarray(have - body.offset)]);
        state.eof = Boolean(body.eof);
        res = Response.json({ offset: state.input.length, eof: state.eof });
      }
      if (lose.includes(state.calls.length)) throw new TypeError('fetch failed');
      return res;
    };
    return { state, fetch };
  }

  test('input keeps its offset, a retried call appends nothing twice, long input goes in pieces, eof closes', async () => {
    const { state, fetch } = stdinServer([1, 5]);
    const sbx = new SbxClient({ baseUrl: 'http://sbx', fetch });
    assert.deepEqual(await sbx.sendInput('j1', 'héllo\n'), { offset: 7, eof: false });
    sbx.limits.inputCallBytes = 4;
    assert.deepEqual(await sbx.sendInput('j1', 'wörld\n'), { offset: 14, eof: false });
    assert.deepEqual(await sbx.closeInput('j1'), { offset: 14, eof: true });
    assert.equal(state.input.toString(), 'héllo\nwörld\n');
    assert.deepEqual(
      state.calls.map((c) => c.offset),
      [0, 0, 7, 11, 14, 14],
    );
    assert.deepEqual(
      state.calls.slice(2, 4).map((c) => c.data),
      ['wör', 'ld\n'],
    );
  });

  test('a gap is an error, not retried', async () => {
    const { state, fetch } = stdinServer([]);
    await assert.rejects(
      new SbxClient({ baseUrl: 'http://sbx', fetch }).sendInput('j1', 'x', { offset: 5 }),
      (e) => e instanceof SbxApiError && e.statusCode === 409 && e.code === 'stdin_gap',
    );
    assert.equal(state.calls.length, 1);
  });
});
