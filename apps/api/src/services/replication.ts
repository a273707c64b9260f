import { ApiError, type ReplicaFence, ReplicationShortError } from '@sbx/shared';

/**
 * With SBX_REDIS_WAIT_REPLICAS, waits until the replicas hold every write made so far (the job,
 * its owner, its place). Short of them the honest answer is neither 202 nor "nothing was queued":
 * the job is on the primary and runs unless the primary fails first.
 */
export async function confirmReplicated(fence: Pick<ReplicaFence, 'confirm'> | null): Promise<void> {
  try {
    await fence?.confirm();
  } catch (err) {
    throw notReplicatedError(err);
  }
}

/** The 503 for a job queued on the primary that no replica confirmed (a short WAIT, or no answer). */
export function notReplicatedError(err: unknown): ApiError {
  const why = err instanceof ReplicationShortError ? err.message : `Redis did not answer: ${(err as Error).message}`;
  return new ApiError(
    'not_replicated',
    `${why}; the job was queued on the primary and runs unless the primary fails before a replica has it. Send the same request with the same Idempotency-Key to have it confirmed (never a second job)`,
    err instanceof ReplicationShortError ? { acknowledged: err.acknowledged, wanted: err.wanted } : undefined,
    1,
  );
}
