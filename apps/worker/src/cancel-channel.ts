/** What the channel needs of its Redis connection. */
export interface CancelSubscriber {
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  subscribe(channel: string): Promise<unknown>;
}

export interface CancelChannelOptions {
  /** A connection of its own: once subscribed it takes no other command. */
  subscriber: CancelSubscriber;
  /** The pub/sub channel cancels are published on (redisKeys().cancelChannel); a message is a job id. */
  channel: string;
  /** Whether the job was cancelled before it reached this worker (its flag, redisKeys().cancelFlag). */
  flagged: (jobId: string) => Promise<boolean>;
}

/**
 * How a cancel reaches the run it stops: the API sets the job's flag, for a worker yet to take it,
 * and publishes its id, for the worker running it. Each job this worker runs is tracked here with an
 * abort signal from the moment it is taken until it ends; a cancel for it aborts that signal.
 */
export class CancelChannel {
  private readonly running = new Map<string, AbortController>();

  constructor(private readonly opts: CancelChannelOptions) {
    opts.subscriber.on('message', (_channel: string, jobId: string) => this.running.get(jobId)?.abort());
  }

  /** Subscribes: cancels published before this are missed, and only the flag tells of them. */
  async start(): Promise<void> {
    await this.opts.subscriber.subscribe(this.opts.channel);
  }

  /** Jobs this worker runs now. */
  get size(): number {
    return this.running.size;
  }

  /** The signal a cancel of this job aborts, until `untrack`. */
  track(jobId: string): AbortSignal {
    const cancel = new AbortController();
    this.running.set(jobId, cancel);
    return cancel.signal;
  }

  untrack(jobId: string): void {
    this.running.delete(jobId);
  }

  /** True when the job was cancelled before now; ask after `track`, so a cancel in between is not lost. */
  requested(jobId: string): Promise<boolean> {
    return this.opts.flagged(jobId);
  }
}
