import {
  BULL_JOB_FIELDS,
  type BullKeys,
  EVENT_FIELDS,
  EVENTS_AFTER_RESULT_SECONDS,
  encodeJobEvent,
  JOB_EVENTS_MAXLEN,
  type JobEvent,
  type JobReceipt,
  type RunEvidence,
  type RunRecord,
  type RunResult,
  type StoreOutcome,
} from '@sbx/shared';
import type { Redis } from 'ioredis';

/** Lines kept in one job's run log: far more than its attempts and stalls can make. */
export const RUN_LOG_CAP = 32;

/** What a job's event stream gets when its result is stored: the API sends the job's view in its place. */
const RESULT_MARKER: JobEvent = { type: 'result', data: {} };

/**
 * One round trip, atomic with BullMQ's own lock changes (they are scripts on the same Redis too):
 * store the result only if none is stored yet and, when a lock token is given, only while this run's
 * token still holds the job's lock. A worker cut off from Redis keeps running its jobs; by the time
 * its store reaches Redis its lock may have lapsed and the job may be running, or done, elsewhere. The
 * first-writer-wins rule alone would let such a stale run's result stand while BullMQ records the
 * other run's completion; the token makes the lock holder the only writer. The run's log line is
 * written in the same script, with the outcome, so the log never disagrees with the stored result.
 * And once a result is stored, BullMQ's copy of the job keeps only its receipt (jobReceipt): the code
 * and input then live in the result alone, not for BullMQ's retention too. No run needs them any more
 * (a retaken job finds its result and returns), and cutting them here, with the result, costs no round
 * trip and cannot happen without it.
 *
 * A stored result also ends the job's live events (job-events.ts): the `result` marker, after every
 * output event the run published (same connection, earlier commands), and the stream's shorter life
 * from now on. In the same script, so no viewer can see a result stored without its marker; with
 * pcall, so a marker that fails (the stream key taken by something else) never fails the result.
 * An interactive job's input (job-input.ts) gets the same shorter life: nothing reads it any more.
 *
 * KEYS: result, run log, BullMQ lock, BullMQ job hash, events stream, input stream, input state.
 * ARGV: result JSON, TTL seconds,
 * lock token ('' = not fenced: the job already left the active state), run record JSON ('' = none),
 * log cap, receipt JSON ('' = leave the job hash), events maxlen, events TTL seconds, marker type,
 * marker payload.
 */
const STORE = `
local outcome = 'stored'
if redis.call('EXISTS', KEYS[1]) == 1 then
  outcome = 'superseded'
elseif ARGV[3] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[3] then
  outcome = 'lock_lost'
else
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
if outcome ~= 'lock_lost' and ARGV[6] ~= '' and redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('HSET', KEYS[4], '${BULL_JOB_FIELDS.data}', ARGV[6])
end
if ARGV[4] ~= '' then
  local record = cjson.decode(ARGV[4])
  record['outcome'] = outcome
  redis.call('RPUSH', KEYS[2], cjson.encode(record))
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[5]), -1)
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
if outcome == 'stored' then
  redis.pcall('XADD', KEYS[5], 'MAXLEN', '~', ARGV[7], '*', '${EVENT_FIELDS.type}', ARGV[9], '${EVENT_FIELDS.data}', ARGV[10])
  redis.pcall('EXPIRE', KEYS[5], ARGV[8])
  redis.pcall('EXPIRE', KEYS[6], ARGV[8])
  redis.pcall('EXPIRE', KEYS[7], ARGV[8])
end
return outcome
`;

export interface ResultStoreOptions {
  ttlSeconds: number;
  resultKey: (jobId: string) => string;
  runsKey: (jobId: string) => string;
  /** The stream of a job's live events (redisKeys().events). */
  eventsKey: (jobId: string) => string;
  /** An interactive job's input stream and state (redisKeys().input, inputState); absent: left alone. */
  inputKeys?: (jobId: string) => [string, string];
  /** A Judge0 submission's record (redisKeys().judge0); absent: left alone. */
  judge0Key?: (jobId: string) => string;
  /** BullMQ's keys of the queue's jobs: a job's hash, and its lock. */
  bull: Pick<BullKeys, 'job' | 'lock'>;
}

/** What a run knows about itself before it has a result. */
export type RunStart = Omit<RunEvidence, 'finished_at'>;

/** The result with the evidence of the run that made it; finished when the result was. */
export function withRun(result: RunResult, run: RunStart): RunResult {
  return { ...result, run: { ...run, finished_at: result.finished_at } };
}

/** Results and each job's run log: who ran it, when, and whether their result is the one kept. */
export class ResultStore {
  constructor(
    private readonly redis: Redis,
    private readonly opts: ResultStoreOptions,
  ) {}

  /** Logs that a run started. A worker that dies mid-run leaves only this line behind. */
  async started(jobId: string, run: RunStart): Promise<void> {
    const record: RunRecord = { event: 'started', ...run };
    const key = this.opts.runsKey(jobId);
    await this.redis
      .multi()
      .rpush(key, JSON.stringify(record))
      .ltrim(key, -RUN_LOG_CAP, -1)
      .expire(key, this.opts.ttlSeconds)
      .exec();
  }

  /**
   * Stores the result unless one is stored already or, with `token`, this run lost the job's lock;
   * never overwrites. Logs the run's end (when the result carries its run) with the outcome. With
   * `receipt`, a job whose result is now stored (by this run or another) keeps only that in BullMQ.
   */
  async store(result: RunResult, token?: string, receipt?: JobReceipt): Promise<StoreOutcome> {
    const record: RunRecord | null = result.run
      ? { event: 'finished', ...result.run, status: result.status, outcome: 'stored' }
      : null;
    const { ttlSeconds } = this.opts;
    // Without input keys, the events stream twice: an EXPIRE that changes nothing.
    const events = this.opts.eventsKey(result.id);
    const input = this.opts.inputKeys?.(result.id) ?? [events, events];
    const outcome = await this.redis.eval(
      STORE,
      7,
      this.opts.resultKey(result.id),
      this.opts.runsKey(result.id),
      this.opts.bull.lock(result.id),
      this.opts.bull.job(result.id),
      events,
      ...input,
      JSON.stringify(result),
      String(ttlSeconds),
      token ?? '',
      record ? JSON.stringify(record) : '',
      String(RUN_LOG_CAP),
      receipt ? JSON.stringify(receipt) : '',
      String(JOB_EVENTS_MAXLEN),
      String(Math.min(ttlSeconds, EVENTS_AFTER_RESULT_SECONDS)),
      ...encodeJobEvent(RESULT_MARKER),
    );
    return outcome as StoreOutcome;
  }

  /**
   * A Judge0 submission's record lives exactly as long as its result from now on: the API saved it
   * for longer, not knowing how long the job would wait (compat/judge0/records.ts).
   */
  async keepJudge0Record(jobId: string): Promise<void> {
    if (this.opts.judge0Key) await this.redis.expire(this.opts.judge0Key(jobId), this.opts.ttlSeconds);
  }

  /** A job's run log, oldest first (lines that do not parse are skipped). */
  async runs(jobId: string): Promise<RunRecord[]> {
    return parseRunLog(await this.redis.lrange(this.opts.runsKey(jobId), 0, -1));
  }
}

export function parseRunLog(lines: string[]): RunRecord[] {
  const out: RunRecord[] = [];
  for (const line of lines) {
    try {
      out.push(JSON.parse(line) as RunRecord);
    } catch {
      // A line from a future format: not evidence this reader can use.
    }
  }
  return out;
}
