/**
 * A text/event-stream parser, by the HTML spec's rules (lines end in CRLF, LF or CR; `data` lines
 * join with LF; a comment starts with a colon; an event is dispatched at a blank line). The page reads
 * the stream with fetch() rather than EventSource so that it can send `Authorization`: EventSource
 * cannot, and an API key in a URL ends up in logs.
 */

/** One dispatched event. */
export interface SseMessage {
  /** The `event` field, or `message` when it had none. */
  event: string;
  data: string;
  /** The last event id seen so far on this stream (the spec's "last event ID"), if any. */
  lastEventId: string | undefined;
}

const LF = 10;
const CR = 13;

export class SseParser {
  /**
   * The id of the last event dispatched (or of the last blank line after an `id:`), carried over
   * from earlier events as the spec says: what a reconnect resumes after. An `id:` of an event cut
   * off before its blank line never gets here, so that event is asked for again.
   */
  lastEventId: string | undefined;
  private idBuffer: string | undefined;
  /** Set when the server sent a `retry:` field: its reconnection delay in milliseconds. */
  retryMs: number | undefined;
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private started = false;
  private afterCr = false;

  constructor(lastEventId?: string) {
    this.lastEventId = lastEventId;
    this.idBuffer = lastEventId;
  }

  /** Feeds decoded text (any split: mid-line, mid-CRLF); returns the events it completed. */
  push(chunk: string): SseMessage[] {
    let text = this.buffer + chunk;
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const out: SseMessage[] = [];
    let start = 0;
    // A CR ends its line at once; an LF right after it (maybe in the next chunk) is the same line end.
    if (this.afterCr && text.charCodeAt(0) === LF) start = 1;
    this.afterCr = false;
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== LF && c !== CR) continue;
      const message = this.line(text.slice(start, i));
      if (message) out.push(message);
      if (c === CR && i + 1 === text.length) this.afterCr = true;
      else if (c === CR && text.charCodeAt(i + 1) === LF) i++;
      start = i + 1;
    }
    this.buffer = text.slice(start);
    return out;
  }

  private line(line: string): SseMessage | null {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.idBuffer = value === '' ? undefined : value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
    return null;
  }

  private dispatch(): SseMessage | null {
    this.lastEventId = this.idBuffer;
    const data = this.data;
    const event = this.event || 'message';
    this.data = [];
    this.event = '';
    // A block with no data line (an id alone, a heartbeat) dispatches nothing but still moved the id.
    if (data.length === 0) return null;
    return { event, data: data.join('\n'), lastEventId: this.lastEventId };
  }
}
