import { connect, createServer, type Socket } from 'node:net';

export interface CuttingProxy {
  /** Where clients connect: http://127.0.0.1:<port>. */
  url: string;
  /** Connections cut so far (0 or 1). */
  cuts: number;
  /** Each request's line and Last-Event-ID header (null without one), in the order they came. */
  requests: { line: string; lastEventId: string | null }[];
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of an API that drops one connection, once, the way a flaky network does: the
 * first response to carry `event: <event>` is passed on up to the middle of that event's first line
 * (`inside`: the client has half an event) or up to its blank line (`after`: the client has all of it),
 * then both sides are destroyed. Every other byte passes as is, so what a client shows afterwards is its
 * resuming alone.
 */
export async function cuttingProxy(
  target: string,
  opts: { event: string; at: 'inside' | 'after' },
): Promise<CuttingProxy> {
  const upstream = new URL(target);
  const sockets = new Set<Socket>();
  const proxy: CuttingProxy = { url: '', cuts: 0, requests: [], close: async () => {} };
  const server = createServer((client) => {
    const server = connect(Number(upstream.port), upstream.hostname);
    for (const s of [client, server]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.on('data', (chunk: Buffer) => {
      record(proxy, chunk);
      server.write(chunk);
    });
    client.on('end', () => server.end());
    server.on('end', () => client.end());
    let seen = '';
    server.on('data', (chunk: Buffer) => {
      if (proxy.cuts > 0) return void client.write(chunk);
      const before = seen.length;
      seen += chunk.toString('latin1');
      const cut = cutPoint(seen, opts);
      if (cut === null) return void client.write(chunk);
      proxy.cuts += 1;
      client.write(chunk.subarray(0, cut - before), () => {
        client.destroy();
        server.destroy();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  proxy.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return proxy;
}

/** Where in the response so far to cut, or null while the event has not come (or not whole, for `after`). */
function cutPoint(seen: string, opts: { event: string; at: 'inside' | 'after' }): number | null {
  const at = seen.indexOf(`event: ${opts.event}\n`);
  if (at < 0) return null;
  if (opts.at === 'inside') return at + 'event: '.length;
  const end = seen.indexOf('\n\n', at);
  return end < 0 ? null : end + 2;
}

/** Notes the requests a chunk from a client starts (a connection may carry several, one after another). */
function record(proxy: CuttingProxy, chunk: Buffer): void {
  const text = chunk.toString('latin1');
  for (const m of text.matchAll(/^(GET|POST|DELETE) (\S+) HTTP\/1\.1\r\n((?:[^\r\n]+\r\n)*)\r\n/gm)) {
    const header = /^last-event-id: *(.*)$/im.exec(m[3] ?? '');
    proxy.requests.push({ line: `${m[1]} ${m[2]}`, lastEventId: header?.[1]?.trim() ?? null });
  }
}
