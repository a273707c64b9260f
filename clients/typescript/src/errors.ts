import type { ErrorBody } from '@sbx/shared';

/** The API refused a request; `code` is the stable error code from the server. */
export class SbxApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    /** Seconds after which trying again can succeed (429, and 503 queue_full), from Retry-After. */
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(message);
    this.name = 'SbxApiError';
  }
}

/** A refusal as an SbxApiError, from its JSON error body (`http_error` when a proxy answered with something else). */
export async function apiErrorOf(res: Response): Promise<SbxApiError> {
  const body = (await res.json().catch(() => ({}))) as Partial<ErrorBody> | null;
  const err = typeof body === 'object' && body !== null ? body : {};
  const after = res.headers.get('retry-after') ?? '';
  return new SbxApiError(
    res.status,
    err.code ?? 'http_error',
    err.message ?? res.statusText,
    err.details,
    /^\d+$/.test(after) ? Number(after) : null,
  );
}

/**
 * Worth asking again: no answer (fetch rejects with a TypeError), Redis or the queue briefly away (the
 * job is safe in Redis), or a gateway answering for the API while it restarts. A full queue, a 404, a
 * 413 are final.
 */
export function isRetriable(err: unknown): boolean {
  if (err instanceof SbxApiError)
    return (
      err.code === 'queue_unavailable' ||
      err.code === 'not_replicated' ||
      (err.code === 'http_error' && [502, 503, 504].includes(err.statusCode))
    );
  return err instanceof TypeError;
}
