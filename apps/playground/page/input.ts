/**
 * Sends what the person types to a running interactive job, in order, through POST /jobs/:id/stdin.
 * Each call names its `offset`: the UTF-8 bytes already accepted after the job's own stdin. A call
 * whose answer was lost is sent again as it was: the server accepts a range once, so a retry never
 * doubles a line.
 */
import { ApiFailure } from './api.js';
import { splitUtf8 } from './format.js';
import type { StdinAccepted } from './wire.js';

export type StdinBody = { data: string; offset: number } | { eof: true; offset: number };

export interface InputSenderOptions {
  post: (body: StdinBody) => Promise<StdinAccepted>;
  /** Called once when input can no longer be sent (the program ended, stdin closed, a limit). */
  onClosed?: (failure: ApiFailure) => void;
  /** Largest data of one call (`limits.interactive.max_input_call_bytes`): longer text goes in several. */
  maxCallBytes?: number;
  /** Retries of one call after a network failure, and the wait between them. */
  retries?: number;
  retryDelayMs?: number;
}

export class InputSender {
  /** Bytes the server has accepted. */
  accepted = 0;
  private queue: Promise<void> = Promise.resolve();
  private closed: ApiFailure | null = null;

  constructor(private readonly options: InputSenderOptions) {}

  /** Queues text (a line with its newline, say); resolves once it is accepted, or input ended. */
  send(text: string): Promise<void> {
    let done = Promise.resolve();
    // The offset is read when the call's turn comes, after the calls queued before it were accepted.
    for (const data of splitUtf8(text, this.options.maxCallBytes ?? 65_536))
      done = this.enqueue(() => this.deliver({ data, offset: this.accepted }));
    return done;
  }

  /** Closes the program's stdin: its next read gets end of file. */
  eof(): Promise<void> {
    return this.enqueue(() => this.deliver({ eof: true, offset: this.accepted }));
  }

  get isClosed(): boolean {
    return this.closed !== null;
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(() => (this.closed ? undefined : step()));
    return this.queue;
  }

  private async deliver(body: StdinBody): Promise<void> {
    const retries = this.options.retries ?? 3;
    for (let attempt = 0; ; attempt++) {
      try {
        // The same body on a retry: if the lost answer's call was accepted, the server says so and
        // appends nothing.
        const answer = await this.options.post(body);
        this.accepted = answer.offset;
        if (answer.eof) this.close(new ApiFailure(409, 'stdin_closed', 'input is closed'));
        return;
      } catch (err) {
        const failure = err instanceof ApiFailure ? err : new ApiFailure(0, 'network', String(err));
        // A refusal (the job ended, stdin closed, a limit, a gap) will not change on a retry.
        if ((failure.status >= 400 && failure.status < 500) || attempt >= retries) {
          this.close(failure);
          return;
        }
        await new Promise((r) => globalThis.setTimeout(r, (this.options.retryDelayMs ?? 300) * (attempt + 1)));
      }
    }
  }

  private close(failure: ApiFailure): void {
    if (this.closed) return;
    this.closed = failure;
    this.options.onClosed?.(failure);
  }
}
