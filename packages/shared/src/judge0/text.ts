/**
 * Judge0's text conventions: Ruby's Base64.encode64 (60-character lines, each ending in a newline),
 * its lenient decode64, and the answer comparison of isolate_job.rb.
 */

/** Base64 as Ruby's encode64 writes it: what Judge0 clients have always received. */
export function encode64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/.{1,60}/g, '$&\n');
}

/** Like decode64, ignores anything outside the alphabet (the newlines encode64 adds among them). */
export function decode64(text: string): Buffer {
  return Buffer.from(text.replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
}

/** Ruby's String#rstrip: trailing ASCII whitespace and NUL. */
const RSTRIP = /[\0\t\n\v\f\r ]+$/;

/**
 * isolate_job.rb's strip: split on "\n", rstrip each line, join, rstrip the whole. Works on bytes
 * (latin1 maps each byte to one code unit), as Ruby does on the raw output.
 */
export function judge0Strip(bytes: Buffer | null): string | null {
  if (bytes === null) return null;
  return bytes
    .toString('latin1')
    .split('\n')
    .map((line) => line.replace(RSTRIP, ''))
    .join('\n')
    .replace(RSTRIP, '');
}

/**
 * Accepted when there is no expected output, or both strip to the same. As in Judge0, an empty
 * stdout is null and an empty expected output is "": they differ (a Wrong Answer there too).
 */
export function judge0Accepts(expected: string | null, stdout: Buffer | null): boolean {
  if (expected === null) return true;
  return judge0Strip(Buffer.from(expected, 'utf8')) === judge0Strip(stdout);
}

/** How Rails writes a decimal column: at least one digit after the point ("5.0", "0.031"). */
export function decimalString(seconds: number, places = 3): string {
  const rounded = Math.round(seconds * 10 ** places) / 10 ** places;
  const text = rounded.toFixed(places).replace(/0+$/, '');
  return text.endsWith('.') ? `${text}0` : text;
}
