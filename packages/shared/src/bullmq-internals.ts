/**
 * Every key and structure of BullMQ's that this project touches past BullMQ's own API: here and
 * nowhere else. BullMQ does not promise any of it between releases, so each name and layout below is
 * checked against the installed BullMQ by test/redis/bullmq-internals.test.ts; an upgrade that
 * moves one fails there, before it quietly breaks the fair queue, the result fence or the lock keeper.
 *
 * Who relies on what:
 * - fair-queue.ts: the prioritized set (a job's rank is its position; the score layout finds the
 *   batch band) and the wait list (promoted jobs, taken from its right end), and the four lists and
 *   sets that say the queue is idle.
 * - the worker's result store: a job's hash (its `data` field is cut down to the receipt) and its
 *   lock (a result is stored only while the run's token still holds it).
 * - the worker's lock keeper: the lock and the stalled set (what BullMQ's extendLocks does, by hand).
 */

/** BullMQ's keys of one queue (its QueueKeys: `{prefix}:{queue}:{type}`) and of each job in it. */
export const bullKeys = (prefix: string, queueName: string) => {
  const queue = `${prefix}:${queueName}`;
  return {
    /** Every key of BullMQ's for this queue starts with this. */
    keyPrefix: `${queue}:`,
    /** List of the ids being run. */
    active: `${queue}:active`,
    /** List of the ids waiting without a priority (priority 0: promoted jobs), taken from its right end. */
    wait: `${queue}:wait`,
    /** Sorted set of the ids waiting with a priority, scored by `prioritizedScore`. */
    prioritized: `${queue}:prioritized`,
    /** Sorted set of the ids waiting for a time: retries' backoff, parked jobs. */
    delayed: `${queue}:delayed`,
    /** Set of the active ids whose lock was not renewed since the last stalled check. */
    stalled: `${queue}:stalled`,
    /** Hash of the queue's settings (`paused`, ...). */
    meta: `${queue}:meta`,
    /** Stream of the queue's events. */
    events: `${queue}:events`,
    /** Sorted set a worker blocks on while there is nothing to take. */
    marker: `${queue}:marker`,
    /** Counter behind the prioritized scores' low bits. */
    priorityCounter: `${queue}:pc`,
    /** A job's hash: its data, options and state fields. */
    job: (id: string) => `${queue}:${id}`,
    /** A running job's lock: the token of the run holding it, expiring unless renewed. */
    lock: (id: string) => `${queue}:${id}:lock`,
  };
};

export type BullKeys = ReturnType<typeof bullKeys>;

/**
 * The type names of every key BullMQ keeps for a queue (`{prefix}:{queue}:{type}`; its QueueKeys
 * less the job hashes). A job id equal to one of them would name one of these keys instead of a job.
 */
export const BULL_QUEUE_KEY_TYPES = [
  'active',
  'wait',
  'waiting-children',
  'paused',
  'id',
  'delayed',
  'prioritized',
  'stalled-check',
  'completed',
  'failed',
  'stalled',
  'repeat',
  'limiter',
  'meta',
  'events',
  'pc',
  'marker',
  'de',
] as const;

/** Fields of a job's hash that we read or write. */
export const BULL_JOB_FIELDS = {
  /** The job's data as JSON: what the processor is handed. */
  data: 'data',
  /**
   * A failure BullMQ defers to the next worker that takes the job: set on a job that stalled more
   * often than maxStalledCount, which that worker then fails without running it.
   */
  deferredFailure: 'defa',
} as const;

/** The highest priority BullMQ takes; 0 is no priority (the job goes to the wait list). */
export const BULL_MAX_PRIORITY = 2 ** 21 - 1;

/** A prioritized job's score: its priority above 32 bits of the queue's counter (FIFO within a priority). */
const PRIORITY_SHIFT = 2 ** 32;

/** The score BullMQ gives a job of `priority` added when the queue's counter stood at `counter`. */
export const prioritizedScore = (priority: number, counter = 0): number =>
  priority * PRIORITY_SHIFT + (counter % PRIORITY_SHIFT);

/** The priority of a prioritized job, from its score. */
export const priorityOfScore = (score: number): number => Math.floor(score / PRIORITY_SHIFT);
