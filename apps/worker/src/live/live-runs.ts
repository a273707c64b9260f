import type { JobEvent } from '@sbx/shared';
import type { InputSource } from '../sandbox/types.js';
import type { RunEventWriter } from './event-publisher.js';
import { LiveOutput, type OutputSink } from './live-output.js';
import type { Schedule } from './output-coalescer.js';

/** One run's live side: the sink its sandbox writes output to, where its input comes from, and its end. */
export interface LiveRun {
  output: OutputSink;
  /** The job's input as callers send it (an interactive job's sandbox follows it while it runs). */
  input?: InputSource;
  /** The run is over: held output goes now (before the result is recorded, and so before its marker). */
  end(): void;
}

export interface LiveRunsOptions {
  /** A run's writer, fenced by its lock token (JobEventPublisher.forRun). */
  writerFor: (jobId: string, token: string | undefined) => RunEventWriter;
  /** A job's input (InputFollower.source); absent: no run gets any beyond its body's stdin. */
  inputOf?: (jobId: string) => InputSource;
  /** SBX_MAX_OUTPUT_BYTES. */
  capBytes: number;
  schedule?: Schedule;
}

/** What a run starting tells its viewers, and where its output goes. */
export class LiveRuns {
  constructor(private readonly opts: LiveRunsOptions) {}

  /**
   * A run of the job starts: `running`, preceded on a retry (attempt > 1: a fault of ours ended an
   * earlier run) by `run`, which clears the viewer and trims the earlier run's events.
   */
  start(jobId: string, run: { attempt: number; token: string | undefined; encoding?: 'base64' }): LiveRun {
    const writer = this.opts.writerFor(jobId, run.token);
    const running: JobEvent = { type: 'status', data: { state: 'running', attempt: run.attempt } };
    const retry = run.attempt > 1;
    writer.publish(retry ? [{ type: 'run', data: { attempt: run.attempt } }, running] : [running], retry);
    const output = new LiveOutput({
      capBytes: this.opts.capBytes,
      encoding: run.encoding ?? 'utf8',
      publish: (events) => writer.publish(events),
      ...(this.opts.schedule ? { schedule: this.opts.schedule } : {}),
    });
    const input = this.opts.inputOf?.(jobId);
    return { output, ...(input ? { input } : {}), end: () => output.end() };
  }
}
