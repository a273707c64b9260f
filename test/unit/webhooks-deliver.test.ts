import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { deliverOnce } from '@sbx/webhooks';

// A real receiver on 127.0.0.1; each test picks its behaviour by path.
interface Seen {
  path: string;
  host: string | undefined;
  headers: IncomingMessage['headers'];
  body: string;
}
const seen: Seen[] = [];
const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  '/ok': (_req, res) => res.writeHead(204).end(),
  '/fail': (_req, res) => res.writeHead(500).end('boom'),
  '/redirect': (_req, res) => res.writeHead(302, { location: '/ok' }).end(),
  '/busy': (_req, res) => res.writeHead(429, { 'retry-after': '7' }).end(),
  '/down': (_req, res) => res.writeHead(503, { 'retry-after': new Date(Date.now() + 60_000).toUTCString() }).end(),
  '/ignored-retry-after': (_req, res) => res.writeHead(500, { 'retry-after': '7' }).end(),
  '/hang': () => {}, // never answers
  '/endless': (_req, res) => {
    // 200 and then body for ever: the reader must stop at its cap, not buffer without end.
    res.writeHead(200);
    const chunk = Buffer.alloc(16 * 1024, 'x');
    const pump = () => {
      while (res.write(chunk)) {}
      res.once('drain', pump);
    };
    pump();
  },
};
let server: Server;
let port = 0;
const sockets = new Set<import('node:net').Socket>();

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      const path = req.url ?? '';
      seen.push({ path, host: req.headers.host, headers: req.headers, body });
      (routes[path] ?? ((_q, r) => r.writeHead(404).end()))(req, res);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => server.close(r));
});

const send = (path: string, extra: Partial<Parameters<typeof deliverOnce>[0]> = {}) =>
  deliverOnce({
    url: new URL(`http://127.0.0.1:${port}${path}`),
    address: '127.0.0.1',
    family: 4,
    body: '{"a":1}',
    headers: { 'webhook-id': 'msg_1' },
    timeoutMs: 2000,
    ...extra,
  });

test('a 2xx is ok; the body and headers arrive as given, as JSON', async () => {
  const r = await send('/ok');
  assert.deepEqual(
    { ok: r.ok, status: r.status, error: r.error, retryAfterMs: r.retryAfterMs },
    {
      ok: true,
      status: 204,
      error: null,
      retryAfterMs: null,
    },
  );
  const last = seen.at(-1);
  assert.equal(last?.body, '{"a":1}');
  assert.equal(last?.headers['webhook-id'], 'msg_1');
  assert.equal(last?.headers['content-type'], 'application/json');
  assert.equal(last?.headers['content-length'], '7');
  assert.ok(r.durationMs >= 0);
});

test('the connection goes to the checked address while Host keeps the URL name', async () => {
  // No DNS knows this name: the request can only arrive because the pinned lookup answered 127.0.0.1.
  const r = await send('/ok', { url: new URL(`http://receiver.invalid:${port}/ok`) });
  assert.equal(r.ok, true, r.error ?? '');
  assert.equal(seen.at(-1)?.host, `receiver.invalid:${port}`);
});

test('a non-2xx is a failure naming the status', async () => {
  const r = await send('/fail');
  assert.deepEqual([r.ok, r.status, r.error], [false, 500, 'http_status: 500']);
});

test('a 302 is a failure and is not followed', async () => {
  const before = seen.length;
  const r = await send('/redirect');
  assert.equal(r.ok, false);
  assert.equal(r.status, 302);
  assert.match(r.error ?? '', /^redirect: 302/);
  assert.deepEqual(
    seen.slice(before).map((s) => s.path),
    ['/redirect'],
  );
});

test('Retry-After is read on 429 (seconds) and 503 (date), ignored on other statuses', async () => {
  assert.equal((await send('/busy')).retryAfterMs, 7000);
  const down = await send('/down');
  assert.equal(down.status, 503);
  assert.ok(down.retryAfterMs !== null && down.retryAfterMs > 55_000 && down.retryAfterMs <= 60_000);
  assert.equal((await send('/ignored-retry-after')).retryAfterMs, null);
});

test('a receiver that never answers is cut off at the timeout', async () => {
  const started = Date.now();
  const r = await send('/hang', { timeoutMs: 300 });
  const took = Date.now() - started;
  assert.equal(r.ok, false);
  assert.equal(r.status, null);
  assert.match(r.error ?? '', /^timeout:/);
  assert.ok(took >= 280 && took < 1500, `took ${took} ms`);
});

test('the response read stops at maxResponseBytes; the status still counts', async () => {
  const started = Date.now();
  const r = await send('/endless', { maxResponseBytes: 64 * 1024, timeoutMs: 5000 });
  assert.equal(r.ok, true);
  assert.equal(r.status, 200);
  assert.equal(r.responseBytes, 64 * 1024);
  assert.ok(Date.now() - started < 2000, 'stopped reading instead of waiting for the timeout');
});

test('nothing listening is a connection failure, not a throw', async () => {
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const freePort = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));
  const r = await send('/ok', { url: new URL(`http://127.0.0.1:${freePort}/ok`) });
  assert.deepEqual([r.ok, r.status, r.error], [false, null, 'connection: ECONNREFUSED']);
});

test('a header Node refuses is reported as a failed attempt', async () => {
  const r = await send('/ok', { headers: { 'webhook-id': 'bad\nvalue' } });
  assert.equal(r.ok, false);
  assert.match(r.error ?? '', /^connection:/);
});
