/**
 * An interactive job's input: the one home of its Redis keys and field names. The API appends what
 * `POST /jobs/:id/stdin` accepts (apps/api/src/services/job-input.ts), the worker follows the stream
 * while the job runs and hands it to the sandbox (apps/worker/src/live/input-follower.ts), and the
 * result store cuts both keys' life once the result is stored (docs/api.md, Interactive input).
 */

/** Stream of the input accepted after the body's stdin, in order: one entry per call that added any. */
export const jobInputKey = (prefix: string, jobId: string): string => `${prefix}:stdin:${jobId}`;

/**
 * Hash of how much input was accepted (`len`, UTF-8 bytes after the body's stdin), whether it was
 * closed (`eof`) and by how many appends (`calls`). Made when an interactive job is queued: no hash,
 * no interactive job.
 */
export const jobInputStateKey = (prefix: string, jobId: string): string => `${prefix}:stdin-state:${jobId}`;

/** Field of a stream entry: `d` holds bytes of input, `e` (value `1`) closes it. */
export const INPUT_FIELDS = { data: 'd', eof: 'e' } as const;

/** Fields of the state hash. */
export const INPUT_STATE_FIELDS = { accepted: 'len', eof: 'eof', calls: 'calls' } as const;

/**
 * Most appends one job's input may take: every call adds at least one byte, so the per-job byte cap
 * bounds them too, but a caller sending one byte at a time would make a stream of a million entries.
 */
export const MAX_INPUT_CALLS = 10_000;
