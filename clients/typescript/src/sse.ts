/** One Server-Sent Event as it arrived: its type, its data lines joined, its own `id:` if it had one. */
export interface SseMessage {
  event: string;
  data: string;
  id?: string;
}

/**
 * Server-Sent Events from text as it arrives, by the WHATWG rules: lines end in LF, CRLF or CR (even
 * split between reads), `:` lines are comments (the server's heartbeats), several `data:` lines join
 * with LF, and an event is dispatched at a blank line, so a block cut off by a dropped connection is
 * never dispatched. Decoding is the caller's (a streaming TextDecoder, which also drops a BOM).
 */
export class SseParser {
  /** The id of the last complete block that had one: kept across events without one, as EventSource keeps it. */
  lastEventId: string | undefined;
  /** The last `retry:` the server sent (its reconnection delay, ms). */
  retryMs: number | undefined;
  private buffer = '';
  private afterCr = false;
  private type = '';
  private data: string[] = [];
  private id: string | undefined;

  constructor(lastEventId?: string) {
    this.lastEventId = lastEventId;
  }

  /** The events this text completes, in order. */
  feed(text: string): SseMessage[] {
    let chunk = text;
    if (this.afterCr && chunk.startsWith('\n')) chunk = chunk.slice(1);
    this.afterCr = chunk.endsWith('\r');
    const lines = (this.buffer + chunk).split(/\r\n|\r|\n/);
    this.buffer = lines.pop() ?? '';
    const out: SseMessage[] = [];
    for (const line of lines) {
      const message = this.line(line);
      if (message) out.push(message);
    }
    return out;
  }

  private line(line: string): SseMessage | null {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.type = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
    return null;
  }

  private dispatch(): SseMessage | null {
    const { type, data, id } = this;
    this.type = '';
    this.data = [];
    this.id = undefined;
    // As EventSource: an id counts once its block is complete, even a block without data.
    if (id !== undefined) this.lastEventId = id || undefined;
    if (data.length === 0) return null;
    return { event: type || 'message', data: data.join('\n'), ...(id ? { id } : {}) };
  }
}
