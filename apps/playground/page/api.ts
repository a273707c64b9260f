/**
 * The page's calls to the API. Paths are relative ("jobs", not "/jobs"): the page at / or at
 * /playground, or behind a proxy under a prefix, calls the API it was served by.
 */
import type { ErrorBody } from './wire.js';

/** A refusal from the API (its `{ statusCode, code, message }`), or a network failure (status 0, code `network`). */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface ApiOptions {
  /** The API key the person typed, or '' for a server without keys. Read at each call. */
  key: () => string;
  /** Prefix for the relative paths: '' in the page (relative to it), a full origin in unit tests. */
  base?: string;
  fetch?: FetchLike;
}

export class Api {
  private readonly key: () => string;
  private readonly base: string;
  readonly fetch: FetchLike;

  constructor(options: ApiOptions) {
    this.key = options.key;
    this.base = options.base ?? '';
    this.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  url(path: string): string {
    return `${this.base}${path}`;
  }

  /** The Authorization header when there is a key; none otherwise. */
  authHeaders(): Record<string, string> {
    const key = this.key().trim();
    return key ? { authorization: `Bearer ${key}` } : {};
  }

  /** One JSON call; resolves with the body of a 2xx, rejects with an ApiFailure for anything else. */
  async json<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', ...this.authHeaders() };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await this.fetch(this.url(path), {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new ApiFailure(0, 'network', `the server could not be reached (${(err as Error).message})`);
    }
    const text = await res.text();
    if (!res.ok) throw failureOf(res.status, text);
    return (text ? JSON.parse(text) : null) as T;
  }
}

/** The API's error body when it sent one, or a sentence naming the status. */
export function failureOf(status: number, text: string): ApiFailure {
  try {
    const body = JSON.parse(text) as Partial<ErrorBody>;
    if (typeof body.code === 'string' && typeof body.message === 'string')
      return new ApiFailure(status, body.code, body.message);
  } catch {
    // not JSON: a proxy's page, say
  }
  return new ApiFailure(status, `http_${status}`, `the server answered ${status}`);
}
