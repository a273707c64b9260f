import type { Duplex } from 'node:stream';
import type { ResolvedLimits } from '@sbx/shared';
import type Docker from 'dockerode';
import type { CgroupOom } from './cgroup-oom.js';
import { type Checkpoint, containerCheckpointDir, installCheckpoint, RESTORE_HEADROOM_MB } from './checkpoints.js';
import { buildContainerSpec, type SandboxSettings, type SandboxSpec } from './container-spec.js';
import { type CpuCap, capIdleCpu, liftCpuCap, raiseCpuPriority } from './cpu-priority.js';
import { MAX_DROPPED_NAMES } from './harness-report.js';
import { HarnessStream, type TestSlice } from './harness-stream.js';
import type { OomEvents } from './oom-events.js';
import { ReadyGate } from './ready-gate.js';
import type { AcquireLabels, RawRun, RunInput, Sandbox, SandboxRunner } from './types.js';
import { encodeInput, encodeJobLine, encodeTestInput, INPUT_EOF_LINE, WIRE } from './wire.js';

export interface DockerRunnerOptions {
  docker: Docker;
  settings: SandboxSettings;
  workerId: string;
  /** The deployment's key prefix, carried as a label so janitors of other deployments leave it alone. */
  prefix: string;
  /** Output bytes kept before the run is stopped (the cap plus room for the harness report). */
  keepOutputBytes: number;
  /** Added to the time limit before the worker kills the container itself. */
  wallGraceMs: number;
  /** How long to wait for the attach stream to drain after the container exits. */
  drainTimeoutMs?: number;
  /** Longest a sandbox may take from start to its harness waiting for a job. Default 30 s. */
  readyTimeoutMs?: number;
  /** Docker's OOM events for these sandboxes; without them an OOM kill is judged from inspect alone. */
  oomEvents?: OomEvents;
  /** The kernel's OOM-kill count in each sandbox's memory cgroup, read while it runs: the first evidence. */
  cgroupOom?: CgroupOom;
  /** Whether the engine answers now (the worker's DockerWatch); without it, it is assumed to. */
  engineAnswers?: () => Promise<boolean>;
  /** Every sandbox created, by id (the worker's last containerd sweep on stop reads it). */
  created?: { add(id: string): void };
  /** Where sandboxes are restored from instead of started cold (checkpoints.ts); absent: always cold. */
  checkpoints?: CheckpointSource;
}

/** The checkpoints a runner restores from, and what it tells them. */
export interface CheckpointSource {
  /** The checkpoint a sandbox for `spec` restores from; null: it starts cold. */
  for(spec: SandboxSpec): Checkpoint | null;
  /** The engine's data root, where a checkpoint is linked in for a restore. */
  readonly dockerRoot: string | null;
  restored(checkpoint: Checkpoint): void;
  /** A restore failed: its environment starts cold from now on. */
  failed(checkpoint: Checkpoint, err: unknown): void;
}

/**
 * Per test, on top of its time limit, for the worker's backstop: a forked child, its exit and, with
 * stop-on-failure, the worker's go-ahead take about 0.1 s; a loaded host can take several times that.
 */
const PER_TEST_OVERHEAD_MS = 500;

/** Thrown when the sandbox could not be created or started: an infrastructure failure, retried by the queue. */
export class SandboxStartError extends Error {
  readonly code = 'sandbox_start_failed';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SandboxStartError';
  }
}

/** A run ended by something outside the user's program (see lostBecause): retried, never a verdict. */
export class SandboxLostError extends Error {
  readonly code = 'sandbox_lost';
  constructor(message: string) {
    super(message);
    this.name = 'SandboxLostError';
  }
}

/** Cold sandboxes: one new gVisor container per acquire, removed on dispose. */
export class DockerSandboxRunner implements SandboxRunner {
  constructor(private readonly opts: DockerRunnerOptions) {}

  async acquire(limits: SandboxSpec, labels: AcquireLabels): Promise<Sandbox> {
    const checkpoint = this.opts.checkpoints?.for(limits) ?? null;
    if (checkpoint) {
      try {
        const sandbox = await this.restore(limits, labels, checkpoint);
        this.opts.checkpoints?.restored(checkpoint);
        return sandbox;
      } catch (err) {
        // Never the job's failure: this environment starts cold from now on, and so does this sandbox.
        this.opts.checkpoints?.failed(checkpoint, err);
      }
    }
    return this.start(limits, labels, null);
  }

  /** A sandbox restored from `checkpoint` (its memory limit must be the checkpoint's); throws if it cannot. */
  restore(limits: SandboxSpec, labels: AcquireLabels, checkpoint: Checkpoint): Promise<Sandbox> {
    return this.start(limits, labels, checkpoint);
  }

  private async start(limits: SandboxSpec, labels: AcquireLabels, checkpoint: Checkpoint | null): Promise<Sandbox> {
    const { docker, settings, workerId, prefix } = this.opts;
    const spec = buildContainerSpec(
      settings,
      limits,
      { jobId: labels.jobId, workerId, prefix },
      labels.background !== undefined,
    );
    if (checkpoint && spec.HostConfig) {
      const headroom = RESTORE_HEADROOM_MB * 1024 * 1024;
      spec.HostConfig.Memory = (spec.HostConfig.Memory ?? 0) + headroom;
      spec.HostConfig.MemorySwap = (spec.HostConfig.MemorySwap ?? 0) + headroom;
    }
    let container: Docker.Container | undefined;
    try {
      container = await docker.createContainer(spec);
      this.opts.created?.add(container.id);
      labels.background?.created(container.id);
      if (checkpoint) await this.install(checkpoint, container.id);
      // Attach before start so no byte of output is missed.
      const stream = (await container.attach({
        stream: true,
        stdin: true,
        stdout: true,
        stderr: true,
        hijack: true,
      })) as Duplex;
      // A restored supervisor wrote its ready marker before the checkpoint: it waits for its job already.
      const gate = new ReadyGate(stream, checkpoint === null);
      // 'next-exit': the default condition returns at once for a created container. It rejects when
      // the engine goes away; whoever needs the exit handles that, and an unawaited one must not crash us.
      const exited = container.wait({ condition: 'next-exit' });
      exited.catch(() => {});
      // Errors show up as the stream's end too; once('error') listeners come and go, this one stays.
      stream.on('error', () => {});
      if (checkpoint) await this.startRestoring(container, checkpoint);
      else await container.start();
      // Started means the harness waits for its job: a job handed over earlier would wait inside.
      const ready = await Promise.race([gate.ready, delay(this.opts.readyTimeoutMs ?? 30_000).then(() => null)]);
      if (ready === null) throw new Error('the sandbox harness did not become ready');
      if ((!ready || checkpoint) && (await container.inspect()).State.Running !== true)
        throw new Error(checkpoint ? 'the sandbox exited on restore' : 'the sandbox exited while starting');
      return new DockerSandbox(container, stream, gate, exited, limits, this.opts);
    } catch (err) {
      if (container) await container.remove({ force: true }).catch(() => {});
      const how = checkpoint ? 'restore' : 'start';
      throw new SandboxStartError(`could not ${how} sandbox: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Starts a container from the checkpoint installed in its own folder (install). */
  private async startRestoring(container: Docker.Container, checkpoint: Checkpoint): Promise<void> {
    // Docker's `checkpoint` query parameter (experimental): dockerode does not type it, and would send
    // plain options as a body too, which the engine refuses on start; `_query` and an empty `_body` it sends as such.
    const options = { _query: { checkpoint: checkpoint.key }, _body: {} } as Docker.ContainerStartOptions;
    await container.start(options);
  }

  /** Puts the checkpoint where Docker looks for it: the new container's own checkpoints folder. */
  private async install(checkpoint: Checkpoint, containerId: string): Promise<void> {
    const root = this.opts.checkpoints?.dockerRoot;
    if (!root) throw new Error("the engine's data root is not known");
    await installCheckpoint(checkpoint.dir, containerCheckpointDir(root, containerId, checkpoint.key), containerId);
  }
}

class DockerSandbox implements Sandbox {
  private used = false;
  /** The idle cap being written or in place; set synchronously so prioritize always waits for it. */
  private capping: Promise<CpuCap | null> | null = null;
  warm = false;

  constructor(
    private readonly container: Docker.Container,
    private readonly stream: Duplex,
    private readonly gate: ReadyGate,
    private readonly exited: Promise<{ StatusCode: number }>,
    private readonly limits: ResolvedLimits,
    private readonly opts: DockerRunnerOptions,
  ) {}

  get id(): string {
    return this.container.id;
  }

  async prioritize(): Promise<void> {
    const capping = this.capping;
    this.capping = null;
    const cap = capping ? await capping : null;
    if (cap) await liftCpuCap(cap);
    await raiseCpuPriority(this.container.id);
  }

  async idle(): Promise<void> {
    if (!this.used && !this.capping) this.capping = capIdleCpu(this.container.id).catch(() => null);
    await this.capping;
  }

  whenExited(): Promise<void> {
    return this.exited.then(
      () => {},
      () => {},
    );
  }

  async run(input: RunInput, signal?: AbortSignal): Promise<RawRun> {
    if (this.used) throw new Error('a sandbox runs exactly one program');
    // Never run a program on the idle cap's sliver of a core (prioritize lifts it; this is the backstop).
    if (this.capping) await this.prioritize();
    this.used = true;

    let killedBy: RawRun['killedBy'] = null;
    const kill = (reason: NonNullable<RawRun['killedBy']>) => {
      if (killedBy) return;
      killedBy = reason;
      this.container.kill({ signal: 'SIGKILL' }).catch(() => {});
    };
    const { tests } = input;
    // Artifacts come after the user's output, in frames of their own: they have their own caps.
    const artifacts = !tests && input.artifacts && input.artifacts.maxCount > 0 ? input.artifacts : undefined;
    const wire = this.listen(input, artifacts, kill);

    // Before the job line: a kill can land before the first frame comes back.
    await this.opts.cgroupOom?.watch(this.id);
    const started = performance.now();
    this.stream.write(this.jobLine(input, artifacts));
    // Each test's input enters the sandbox only when that test may start.
    if (tests?.[0]) {
      this.stream.write(encodeTestInput(tests[0]));
      wire.stream.begin();
    }
    // An interactive run's input goes in as it comes, from now until the run is over.
    const unfollow = this.followInput(input);
    const deadline = setTimeout(() => kill('deadline'), budgetMs(input, this.limits) + this.opts.wallGraceMs);
    const onAbort = () => kill('abort');
    signal?.addEventListener('abort', onAbort, { once: true });
    // A cancel that landed while the container was still starting.
    if (signal?.aborted) onAbort();
    try {
      // The attach stream can end with the container still running (the engine restarted under it):
      // waiting for the deadline then would report a timeout the program never had.
      const end = await Promise.race([
        wire.finished.then((exitCode) => ({ exitCode })),
        this.exited.then(
          () => null,
          () => null,
        ),
        wire.drained.then(() => 'stream' as const),
      ]);
      // Over: what follows (waiting for an OOM event, the engine) is not the program's time, and a
      // deadline firing during it must not turn a sandbox that died of something else into a timeout.
      clearTimeout(deadline);
      const wallTime = (performance.now() - started) / 1000;
      return await this.settle(end, wire, { wallTime, killedBy: () => killedBy });
    } finally {
      unfollow();
      clearTimeout(deadline);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Follows an interactive run's input into the sandbox's stdin; returns how to stop. */
  private followInput(input: RunInput): () => void {
    if (!input.interactive) return () => {};
    return input.interactive.input.follow({
      // Written after the job line, on the same stream: the supervisor reads them in this order.
      data: (bytes) => this.stream.write(encodeInput(bytes)),
      eof: () => this.stream.write(INPUT_EOF_LINE),
    });
  }

  /**
   * Reads the harness's frames off the attach stream: `finished` resolves with the supervisor's done
   * frame (the run is over once everything is reported: the sandbox's teardown, about 150 ms under
   * gVisor, need not be waited for), `drained` once the stream itself ends.
   */
  private listen(
    input: RunInput,
    artifacts: RunInput['artifacts'],
    kill: (reason: NonNullable<RawRun['killedBy']>) => void,
  ): Wire {
    let finish: (exitCode: number) => void = () => {};
    const sink = input.output;
    const finished = new Promise<number>((resolve) => {
      finish = resolve;
    });
    const stream = new HarnessStream({
      keepOutputBytes: this.opts.keepOutputBytes,
      onOverflow: () => kill('output_cap'),
      artifacts,
      onReport: (slice, index) => {
        slice.oomKilled = this.oomKillsSince();
        if (this.goAhead(input, slice, index)) stream.begin();
      },
      onDone: (exitCode) => finish(exitCode),
      onOutput: sink && ((stream, payload, test) => sink.write(stream, payload, test)),
    });
    const drained = new Promise<void>((resolve) => {
      this.gate.consume((chunk) => {
        stream.push(chunk);
        // A protocol fault is the harness's: stop the sandbox, the run says nothing of the program.
        if (stream.fault) this.container.kill({ signal: 'SIGKILL' }).catch(() => {});
      });
      this.stream.once('end', resolve);
      this.stream.once('close', resolve);
      this.stream.once('error', () => resolve());
    });
    return { stream, finished, drained };
  }

  /**
   * The run as it ended: finished by the harness, cut off with the stream, or ended by the container's
   * exit (then its exit state, and Docker's word on an OOM kill, say how). `killedBy` is read as late
   * as each decision: a kill of the worker's own can still land while this waits on the engine.
   */
  private async settle(
    end: { exitCode: number } | null | 'stream',
    { stream, drained }: Wire,
    run: { wallTime: number; killedBy: () => RawRun['killedBy'] },
  ): Promise<RawRun> {
    const raw = (how: Omit<RunEnd, 'killedBy' | 'wallTime'>): RawRun =>
      rawRun(stream, { ...how, killedBy: run.killedBy(), wallTime: run.wallTime });
    // Under systrap the kernel may OOM-kill only the program: the harness then finishes the run.
    const counted = (await this.opts.cgroupOom?.killed(this.id)) ?? null;
    if (end && end !== 'stream' && run.killedBy() === null)
      return raw({ oomKilled: counted === true, exitCode: end.exitCode, completed: true });
    // A sandbox that exits closes its stream a moment before Docker reports the exit: only a
    // stream that ended while the container lives on (or the engine cannot say) was cut.
    const streamCut = end === 'stream' && run.killedBy() === null && !(await this.exitsSoon(STREAM_EXIT_GRACE_MS));
    if (streamCut) {
      // Nothing more can be read from it: stop it, and let the run be retried elsewhere.
      this.container.kill({ signal: 'SIGKILL' }).catch(() => {});
      return raw({ oomKilled: false, exitCode: null, streamCut });
    }
    await Promise.race([drained, delay(this.opts.drainTimeoutMs ?? 2000)]);
    // The cgroup's count is an answer: Docker's late event (up to 3 s) is waited for only without one.
    const state = await this.exitState(run.killedBy() === null && counted === null);
    const exit = await this.exited.catch(() => null);
    const exitCode = state?.ExitCode ?? exit?.StatusCode ?? null;
    const oomKilled = counted === true || state?.OOMKilled === true;
    const signalled = run.killedBy() === null && !oomKilled && exitCode !== null && exitCode > 128;
    return raw({ oomKilled, exitCode, engineKilled: signalled && (await this.engineEnded()) });
  }

  private jobLine(input: RunInput, artifacts: RunInput['artifacts']): string {
    const { tests } = input;
    return encodeJobLine({
      code: input.code,
      ...(tests ? {} : { stdin: input.stdin, ...(input.args ? { args: input.args } : {}) }),
      ...(input.files ? { files: input.files } : {}),
      time_ms: input.timeMs ?? this.limits.time_ms,
      memory_mb: this.limits.memory_mb,
      policy: input.policy,
      ...(tests ? { tests: tests.map((t) => ({ time_ms: t.time_ms, memory_mb: t.memory_mb })) } : {}),
      ...(input.interactive && !tests
        ? { interactive: true as const, wall_ms: input.interactive.wallMs, idle_ms: input.interactive.idleMs }
        : {}),
      artifacts: {
        format: artifacts?.format ?? 'png',
        max_count: artifacts?.maxCount ?? 0,
        max_bytes: artifacts?.maxBytes ?? 0,
      },
    });
  }

  private oomKillsSeen = 0;

  /** Whether the kernel OOM-killed in the sandbox since the last report: that test's program, then. */
  private oomKillsSince(): boolean {
    const kills = this.opts.cgroupOom?.kills(this.id) ?? null;
    if (kills === null || kills <= this.oomKillsSeen) return false;
    this.oomKillsSeen = kills;
    return true;
  }

  /**
   * After a test's report: the next test's input (its go-ahead), or `stop` when that was the last or
   * `continueAfter` says so. The supervisor waits for this line before the next test starts.
   * Returns whether a next test was started.
   */
  private goAhead(input: RunInput, slice: TestSlice, index: number): boolean {
    const next = input.tests?.[index + 1];
    if (!next) return false;
    const goOn = input.continueAfter ? input.continueAfter(index, slice) : true;
    this.stream.write(goOn ? encodeTestInput(next) : WIRE.stopLine);
    return goOn;
  }

  /**
   * For a sandbox that ended on a signal without its harness finishing (never the program's doing:
   * it cannot signal its supervisor): was it the engine (its kill event, or the engine gone) or
   * something behind the engine's back? The answer only changes what the lost run's message says.
   */
  private async engineEnded(): Promise<boolean> {
    if (await this.opts.oomEvents?.happened(this.id, KILL_EVENT_WAIT_MS, 'kill')) return true;
    return !(await (this.opts.engineAnswers?.() ?? Promise.resolve(true)));
  }

  /** Whether the container exits within `ms` (false when the engine cannot tell). */
  private async exitsSoon(ms: number): Promise<boolean> {
    const exited = this.exited.then(
      () => true,
      () => false,
    );
    if (await Promise.race([exited, delay(ms).then(() => false)])) return true;
    const state = await this.container
      .inspect()
      .then((i) => i.State)
      .catch(() => null);
    return state !== null && state.Running === false;
  }

  /**
   * Docker learns of an OOM kill from a separate event that can land after the exit: under load an
   * inspect right at exit may still say OOMKilled=false for a sandbox the kernel killed. An
   * unexplained SIGKILL exit of the whole sandbox (nothing inside can SIGKILL gVisor's init, so it is
   * nearly always the kernel's OOM killer) therefore waits for that event: up to 3 s, as it came
   * more than a second late on a loaded host. Without an event stream, inspect is asked again.
   */
  private async exitState(unexplained: boolean) {
    const inspect = () =>
      this.container
        .inspect()
        .then((i) => i.State)
        .catch(() => null);
    let state = await inspect();
    if (!unexplained || state?.ExitCode !== 137 || state.OOMKilled) return state;
    const { oomEvents } = this.opts;
    if (oomEvents)
      return (await oomEvents.happened(this.id, OOM_EVENT_WAIT_MS)) ? { ...state, OOMKilled: true } : state;
    for (let i = 0; !state?.OOMKilled && i < OOM_SETTLE_TRIES; i++) {
      await delay(OOM_SETTLE_STEP_MS);
      state = await inspect();
    }
    return state;
  }

  async dispose(): Promise<void> {
    this.stream.destroy();
    this.opts.oomEvents?.forget(this.id);
    this.opts.cgroupOom?.forget(this.id);
    await this.container.remove({ force: true }).catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 404) throw err;
    });
  }
}

/**
 * How long the run may take before the worker's own deadline (plus grace): tests run back to back in
 * one container, so all of them and each one's start-up; an interactive run, its wall-clock bound;
 * any other, its time limit.
 */
function budgetMs(input: RunInput, limits: ResolvedLimits): number {
  if (input.tests) return input.tests.reduce((sum, t) => sum + t.time_ms + PER_TEST_OVERHEAD_MS, 0);
  if (input.interactive) return input.interactive.wallMs;
  return input.timeMs ?? limits.time_ms;
}

const OOM_EVENT_WAIT_MS = 3000;
const STREAM_EXIT_GRACE_MS = 1000;
const KILL_EVENT_WAIT_MS = 1000;
const OOM_SETTLE_TRIES = 5;
const OOM_SETTLE_STEP_MS = 100;
const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** The harness's side of a run: its frames, the done frame's exit code, and the stream's end. */
interface Wire {
  stream: HarnessStream;
  finished: Promise<number>;
  drained: Promise<void>;
}

/** How a run ended, as the sandbox saw it; rawRun adds what the stream carried. */
interface RunEnd {
  killedBy: RawRun['killedBy'];
  wallTime: number;
  oomKilled: boolean;
  exitCode: number | null;
  completed?: boolean;
  streamCut?: boolean;
  engineKilled?: boolean;
}

/** The run as the worker judges it: the program's output, reports and artifacts out of the stream. */
function rawRun(stream: HarnessStream, end: RunEnd): RawRun {
  const slices = stream.slices();
  const { stdout, stderr } = stream.output();
  const last = slices.at(-1)?.report ?? null;
  const found = stream.artifacts();
  const count = (last?.artifacts_dropped ?? 0) + found.dropped.count;
  const names = [...(last?.dropped_names ?? []), ...found.dropped.names].slice(0, MAX_DROPPED_NAMES);
  return {
    killedBy: end.killedBy,
    oomKilled: end.oomKilled,
    exitCode: end.exitCode,
    stdout,
    stderr,
    report: last,
    tests: slices,
    outputOverflow: stream.overflow,
    wallTime: end.wallTime,
    completed: end.completed ?? false,
    streamCut: end.streamCut ?? false,
    engineKilled: end.engineKilled ?? false,
    artifacts: found.artifacts,
    artifactsDropped: { count, names },
    artifactsSkipped: { count: last?.artifacts_skipped ?? 0, names: last?.skipped_names ?? [] },
    protocolFault: stream.fault,
    harnessLog: stream.harnessLog(),
  };
}
