import type { OutputSink } from '../live/live-output.js';
import type { SandboxSpec } from './container-spec.js';
import type { StartTicket } from './cpu-priority.js';
import type { HarnessReport, RawArtifact } from './harness-report.js';
import type { TestSlice } from './harness-stream.js';

export interface RunInput {
  code: string;
  stdin: string;
  /** sys.argv[1:] of the single run. */
  args?: string[];
  /** Files written beside the program (its working directory) before it runs, and before each test: content base64. */
  files?: { name: string; data: string }[];
  /**
   * The job's time limit for the single run. A pooled sandbox was started with the pool's limits, of
   * which only the memory must match (it is the container's); the clock is the job's. Default: the
   * sandbox's own.
   */
  timeMs?: number;
  /** Profile for the in-sandbox policy layer; `off` only when the operator disabled the layer. */
  policy: 'strict' | 'standard' | 'off';
  /** Test cases: one fresh process each, in order, instead of the single run on `stdin`. */
  tests?: { stdin: string; args?: string[]; time_ms: number; memory_mb: number }[];
  /**
   * Asked after each test but the last, once it has finished (its report is in): false stops the run
   * there, before the next test starts (and before its input enters the sandbox). Without it, every
   * test runs.
   */
  continueAfter?: (index: number, slice: TestSlice) => boolean;
  /**
   * What comes back as artifacts of a single run (never with tests): matplotlib figures in this
   * format, and in the standard profile the files under /tmp/outputs; at most maxCount of them and
   * maxBytes of raw content together. Absent: nothing is collected.
   */
  artifacts?: { format: 'png' | 'svg'; maxCount: number; maxBytes: number };
  /** Handed the program's output as it arrives, for the job's viewers (absent: nobody is told). */
  output?: OutputSink;
  /**
   * A single run whose stdin stays open: `input` is followed while it runs and each piece goes to the
   * program as it comes (`stdin` is the first). `timeMs` then bounds its CPU time; `wallMs` its wall
   * clock and the worker's deadline, `idleMs` the time without new input before eof.
   */
  interactive?: { wallMs: number; idleMs: number; input: InputSource };
}

/** Where an interactive run's input goes as it arrives: its bytes in order, then perhaps its end. */
export interface InputSink {
  data(bytes: Buffer): void;
  eof(): void;
}

/** An interactive job's input (its Redis stream: live/input-follower.ts). */
export interface InputSource {
  /** Hands `to` the input from its start, in order, until the function returned is called. */
  follow(to: InputSink): () => void;
}

/** What came out of one sandbox run, before it is judged. */
export interface RawRun {
  /** Set when the worker itself stopped the run. */
  killedBy: 'deadline' | 'output_cap' | 'abort' | null;
  oomKilled: boolean;
  /** Container exit code; null if it could not be read. */
  exitCode: number | null;
  /** The program's own output bytes kept, every test's together, in order (never the harness's). */
  stdout: Buffer;
  stderr: Buffer;
  /** The single run's report (the last test's with tests); null when none arrived. */
  report: HarnessReport | null;
  /** With tests: each finished test's output and report, then the one the run stopped in (report null). */
  tests: TestSlice[];
  /** True when more output arrived than was kept. */
  outputOverflow: boolean;
  /** Seconds from the job frame being written to the run being over (done frame or container exit). */
  wallTime: number;
  /** The harness ended the run itself: its done frame arrived. */
  completed: boolean;
  /** The attach stream ended before the done frame and before the container was seen to exit. */
  streamCut: boolean;
  /**
   * The container ended on a signal the engine sent (a kill event not ours: its shutdown, an
   * operator's stop or kill), or with the engine no longer answering.
   */
  engineKilled: boolean;
  /**
   * Figures and output files, in order, within RunInput.artifacts' caps (checked again here; empty
   * without it). Never counted as output: `stderr` holds none of their bytes.
   */
  artifacts: RawArtifact[];
  /** Artifacts dropped past a cap (by the supervisor or here): the count, and the first 20 names. */
  artifactsDropped: { count: number; names: string[] };
  /** Output files left out for a name that cannot leave the sandbox (no limit's doing). */
  artifactsSkipped: { count: number; names: string[] };
  /** A frame that broke the wire protocol (a harness fault): the run says nothing about the program. */
  protocolFault: string | null;
  /** The supervisor's own stderr, its last bytes: its diagnostics when it failed. */
  harnessLog: string;
}

/**
 * A sandbox is used for exactly one run and then disposed. Acquiring may be
 * cold (create and start a container) or come from a warm pool later.
 */
export interface Sandbox {
  readonly id: string;
  /** Set by a warm pool on the sandboxes it hands out. */
  warm: boolean;
  /** Gives a sandbox started in the background the CPU weight and quota of a running job; throws if it cannot. */
  prioritize(): Promise<void>;
  /** Caps the CPU of a sandbox that waits in a pool (see IDLE_CPU_QUOTA_US); prioritize lifts it. */
  idle(): Promise<void>;
  run(input: RunInput, signal?: AbortSignal): Promise<RawRun>;
  /** Settles when the sandbox has stopped, for whatever reason (a pool watches its idle ones). */
  whenExited(): Promise<void>;
  dispose(): Promise<void>;
}

export interface AcquireLabels {
  jobId: string;
  background?: StartTicket;
  urgent?: boolean;
}

export interface SandboxRunner {
  /**
   * Resolves once the harness inside waits for its job. `background`: started ahead of demand, at
   * the lowest CPU weight until the ticket is raised or the sandbox prioritized. `urgent`: a caller
   * waits (an interactive job): it is served before other jobs waiting for a sandbox.
   */
  acquire(limits: SandboxSpec, labels: AcquireLabels): Promise<Sandbox>;
}
