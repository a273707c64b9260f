import { EVENT_FIELDS, encodeJobEvent, JOB_EVENTS_MAXLEN, type JobEvent } from '@sbx/shared';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/**
 * One round trip per flush. Written only while this run's token holds the job's BullMQ lock (as the
 * result store does): a run that lost its lock (its job retaken elsewhere) cannot write into the
 * stream its retry's viewers read. With `restart`, what came before the first entry written now is
 * trimmed: an earlier run's output is void (XTRIM MINID keeps the stream's last id, so ids keep
 * increasing for viewers resuming across the restart, as they would not after a DEL).
 *
 * KEYS: stream, BullMQ lock. ARGV: lock token ('' = unfenced), maxlen, ttl seconds, restart ('1' or
 * ''), then type and payload JSON of each event.
 */
const PUBLISH = `
if ARGV[1] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
local first = false
for i = 5, #ARGV, 2 do
  local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', '${EVENT_FIELDS.type}', ARGV[i], '${EVENT_FIELDS.data}', ARGV[i + 1])
  first = first or id
end
if ARGV[4] == '1' and first then redis.call('XTRIM', KEYS[1], 'MINID', first) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
`;

export interface JobEventPublisherOptions {
  eventsKey: (jobId: string) => string;
  /** BullMQ's lock key of a job. */
  lockKey: (jobId: string) => string;
  /** SBX_RESULT_TTL_SECONDS: a stream never outlives the result it leads to. */
  ttlSeconds: number;
  log: Pick<Logger, 'warn'>;
}

/** Writes one run's events to its job's stream (JobEventPublisher.forRun). */
export interface RunEventWriter {
  publish(events: JobEvent[], restart?: boolean): void;
}

/**
 * Writes a job's events to its stream, in call order (one connection: every output event is in
 * Redis before the result store's script writes the `result` marker). Never awaited by a run and
 * never throws: a viewer missing output is a lesser harm than a job failed or slowed for it. After a
 * failure the rest of that run's events are dropped (a gap is worse than an early end: the viewer
 * still gets the result, which holds the output).
 */
export class JobEventPublisher {
  constructor(
    private readonly redis: Pick<Redis, 'eval'>,
    private readonly opts: JobEventPublisherOptions,
  ) {}

  /** The writer of one run, fenced by its lock token; its failures are its own. */
  forRun(jobId: string, token: string | undefined): RunEventWriter {
    let broken = false;
    const failed = (err: unknown) => {
      if (broken) return;
      broken = true;
      this.opts.log.warn({ err, job: jobId }, 'live output could not be published; viewers get the result only');
    };
    return {
      publish: (events, restart = false) => {
        if (events.length === 0 || broken) return;
        this.send(jobId, token, events, restart).catch(failed);
      },
    };
  }

  private send(jobId: string, token: string | undefined, events: JobEvent[], restart: boolean): Promise<unknown> {
    return this.redis.eval(
      PUBLISH,
      2,
      this.opts.eventsKey(jobId),
      this.opts.lockKey(jobId),
      token ?? '',
      String(JOB_EVENTS_MAXLEN),
      String(this.opts.ttlSeconds),
      restart ? '1' : '',
      ...events.flatMap((e) => encodeJobEvent(e)),
    );
  }
}
