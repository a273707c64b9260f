/** One Server-Sent Event as a client sees it; `data` parsed as JSON. */
export interface SseEvent {
  id?: string;
  event: string;
  data: unknown;
}

export interface SseStream {
  status: number;
  headers: Headers;
  /** The next event; null once the stream has ended. Rejects after `timeoutMs` with none. */
  next(timeoutMs?: number): Promise<SseEvent | null>;
  /** Every event until the stream ends (or `until` says stop after one). */
  collect(until?: (e: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent[]>;
  close(): void;
}

/**
 * A minimal SSE reader over fetch, as a page reads one (fetch can send Authorization, EventSource
 * cannot): a real connection to a listening server, unlike app.inject, which waits for the whole answer.
 */
export async function openEvents(
  url: string,
  headers: Record<string, string> = {},
  init: { method?: string; body?: string } = {},
): Promise<SseStream> {
  const abort = new AbortController();
  const res = await fetch(url, { ...init, headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const reader = res.body?.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const queued: SseEvent[] = [];
  let ended = !reader;

  const fill = async (): Promise<void> => {
    const { done, value } = await (reader as ReadableStreamDefaultReader<Uint8Array>).read();
    if (done) {
      ended = true;
      return;
    }
    buffer += decoder.decode(value, { stream: true });
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const parsed = parseBlock(block);
      if (parsed) queued.push(parsed);
      end = buffer.indexOf('\n\n');
    }
  };

  const next = async (timeoutMs = 10_000): Promise<SseEvent | null> => {
    const deadline = Date.now() + timeoutMs;
    while (queued.length === 0 && !ended) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no event within ${timeoutMs} ms`);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no event within ${timeoutMs} ms`)), left);
      });
      try {
        await Promise.race([fill(), late]);
      } finally {
        clearTimeout(timer);
      }
    }
    return queued.shift() ?? null;
  };

  return {
    status: res.status,
    headers: res.headers,
    next,
    async collect(until, timeoutMs) {
      const out: SseEvent[] = [];
      for (let e = await next(timeoutMs); e; e = await next(timeoutMs)) {
        out.push(e);
        if (until?.(e)) break;
      }
      return out;
    },
    close: () => abort.abort(),
  };
}

/** One event block; null for comments alone (heartbeats) and blocks without data. */
function parseBlock(block: string): SseEvent | null {
  let id: string | undefined;
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') id = value;
    else if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return null;
  return { ...(id !== undefined ? { id } : {}), event, data: JSON.parse(data.join('\n')) };
}
