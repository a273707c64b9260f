import { ApiError, isRedisOomError, storageFullError } from '@sbx/shared';

/** Redis refusing for memory is storage_full (it answers, and says why); any other trouble is queue_unavailable. */
export function unavailable(err: unknown): ApiError {
  return isRedisOomError(err)
    ? storageFullError('nothing was queued')
    : new ApiError('queue_unavailable', 'the job queue is unavailable; nothing was queued, try again', {
        cause: (err as Error).message,
      });
}

/** Redis trouble as the 503 that says nothing was queued; anything else as it was. */
export async function orUnavailable<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    throw unavailable(err);
  }
}
