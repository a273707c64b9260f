import { type ReplicaFence, ReplicationShortError } from '@sbx/shared';

export interface PatientConfirmOptions {
  /** How long to keep trying before the last failure is thrown: the job's lock duration. */
  giveUpAfterMs: number;
  /** Pause after a failure that took no time (Redis refused the connection). Default 200 ms. */
  pauseMs?: number;
}

/**
 * The replica fence's confirm, patient with a failover: while the replicas are short (a failover
 * leaves the new primary without one until a replica returns) or Redis is away, it keeps trying up
 * to `giveUpAfterMs` rather than spend a job's attempt on a Redis matter. Past that the attempt
 * fails, and its retry, finding the result stored, confirms again. Without a fence (no replicas
 * asked for) it resolves at once.
 */
export function patientReplicaConfirm(
  fence: Pick<ReplicaFence, 'confirm'> | null,
  opts: PatientConfirmOptions,
): () => Promise<void> {
  const pauseMs = opts.pauseMs ?? 200;
  return async () => {
    if (!fence) return;
    const giveUpAt = Date.now() + opts.giveUpAfterMs;
    for (;;) {
      try {
        return await fence.confirm();
      } catch (err) {
        if (Date.now() >= giveUpAt) throw err;
        // A short WAIT has waited its timeout already; a refused connection has not.
        if (!(err instanceof ReplicationShortError)) await new Promise((r) => setTimeout(r, pauseMs));
      }
    }
  };
}
