/** The answer to `POST /jobs/:id/stdin`: the input bytes the server holds (after the request's stdin), and whether it is closed. */
export interface InputAnswer {
  offset: number;
  eof: boolean;
}

export interface InputOptions {
  /** Where this call's input starts, in bytes after the request's stdin; by default where this client's last call for the job ended. */
  offset?: number;
  /** Retries when no answer came, or the queue was briefly unavailable (default 2). */
  retries?: number;
}

/** UTF-8 bytes of one code point as the server counts them (a lone surrogate as U+FFFD, 3 bytes). */
const utf8Bytes = (char: string): number => {
  const cp = char.codePointAt(0) ?? 0;
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
};

/** The text in pieces of at most `maxBytes` UTF-8 bytes each, never splitting a character; none for ''. */
export function utf8Pieces(text: string, maxBytes: number | undefined): string[] {
  if (!text) return [];
  if (maxBytes === undefined) return [text];
  const pieces: string[] = [];
  let piece = '';
  let size = 0;
  for (const char of text) {
    const n = utf8Bytes(char);
    if (size + n > maxBytes && piece) {
      pieces.push(piece);
      [piece, size] = ['', 0];
    }
    piece += char;
    size += n;
  }
  pieces.push(piece);
  return pieces;
}
