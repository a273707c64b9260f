/**
 * Share links: the program travels in the URL's fragment (`#s=...`), which a browser never sends to
 * the server, so a shared program is not logged anywhere on the way. JSON, deflated, in base64url.
 */

/** What a link carries: the code, and optionally the environment, the stdin box and the test cases. */
export interface SharedProgram {
  code: string;
  environment?: string;
  stdin?: string;
  tests?: { stdin: string; expected_output: string }[];
}

const KEY = 's';
/** A link is refused past this many characters of fragment: far above any program the API would take. */
const MAX_FRAGMENT_CHARS = 2_000_000;

async function pipe(bytes: Uint8Array, through: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(through);
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export function toBase64Url(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

export function fromBase64Url(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error('not base64url');
  const binary = atob(text.replaceAll('-', '+').replaceAll('_', '/'));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** The fragment for a program, `s=...` (without the `#`). Empty fields are left out. */
export async function encodeShare(program: SharedProgram): Promise<string> {
  const compact: SharedProgram = { code: program.code };
  if (program.environment) compact.environment = program.environment;
  if (program.stdin) compact.stdin = program.stdin;
  if (program.tests?.length) compact.tests = program.tests;
  const json = new TextEncoder().encode(JSON.stringify(compact));
  return `${KEY}=${toBase64Url(await pipe(json, new CompressionStream('deflate-raw')))}`;
}

/** The program in a fragment (`#s=...` or `s=...`), or null when it carries none or one that does not decode. */
export async function decodeShare(fragment: string): Promise<SharedProgram | null> {
  const raw = fragment.startsWith('#') ? fragment.slice(1) : fragment;
  if (raw.length > MAX_FRAGMENT_CHARS) return null;
  const value = new URLSearchParams(raw).get(KEY);
  if (!value) return null;
  try {
    const json = new TextDecoder('utf-8', { fatal: true }).decode(
      await pipe(fromBase64Url(value), new DecompressionStream('deflate-raw')),
    );
    return asProgram(JSON.parse(json));
  } catch {
    return null;
  }
}

const isString = (v: unknown): v is string => typeof v === 'string';

/** Only the fields and types a link may carry: a hand-edited fragment cannot put anything else in the page. */
function asProgram(value: unknown): SharedProgram | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (!isString(v.code)) return null;
  const program: SharedProgram = { code: v.code };
  if (isString(v.environment)) program.environment = v.environment;
  if (isString(v.stdin)) program.stdin = v.stdin;
  if (Array.isArray(v.tests)) {
    program.tests = v.tests
      .filter((t): t is Record<string, unknown> => typeof t === 'object' && t !== null)
      .filter((t) => isString(t.stdin) && isString(t.expected_output))
      .map((t) => ({ stdin: t.stdin as string, expected_output: t.expected_output as string }));
  }
  return program;
}
