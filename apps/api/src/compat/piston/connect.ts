import type { WebSocket } from '@fastify/websocket';
import { type JobView, type RunResult, signalName, signalNumber, type Tenant } from '@sbx/shared';
import type { FastifyRequest } from 'fastify';
import type { JobInput } from '../../services/job-input.js';
import type { PistonExecutor } from './executor.js';
import type { PistonJob } from './request.js';

/** Piston's close codes (api/src/api/v2.js). */
const CLOSE = {
  alreadyInitialized: [4000, 'Already Initialized'],
  initTimeout: [4001, 'Initialization Timeout'],
  notifiedError: [4002, 'Notified Error'],
  notInitialized: [4003, 'Not yet initialized'],
  stdinOnly: [4004, 'Can only write to stdin'],
  invalidSignal: [4005, 'Invalid signal'],
  completed: [4999, 'Job Completed'],
} as const satisfies Record<string, readonly [number, string]>;

/** Piston closes a socket that has not sent its init within a second. */
const INIT_TIMEOUT_MS = 1000;

interface SessionDeps {
  piston: PistonExecutor;
  input: JobInput;
}

/** A message from the client: only these fields are read, and each is checked where it is. */
interface ClientMessage {
  type?: unknown;
  stream?: unknown;
  data?: unknown;
  signal?: unknown;
}

/**
 * One /api/v2/connect socket: Piston's interactive protocol on our interactive jobs. `init` queues
 * the job (interactive lane, input open); `data` on stdin goes to the job's input (POST
 * /jobs/:id/stdin's service, offsets kept here); the job's live events come back as `stage`,
 * `data` and `exit`. A `signal` stops the program (we cannot deliver a signal it could handle);
 * the socket closing first cancels the job.
 */
class PistonSession {
  private ready: Promise<string | null> | null = null;
  private jobId: string | null = null;
  private sentBytes = 0;
  private inputs: Promise<unknown> = Promise.resolve();
  private signalled: string | null = null;
  private stageSent = false;
  /** Nothing more is sent: the socket is closing. */
  private over = false;
  /** The job's exit was sent: nothing is left to stop. */
  private finished = false;
  private readonly abort = new AbortController();
  private readonly initTimer: NodeJS.Timeout;
  private readonly tenant: Tenant;

  constructor(
    private readonly socket: WebSocket,
    private readonly req: FastifyRequest,
    private readonly deps: SessionDeps,
  ) {
    this.tenant = req.tenant;
    this.initTimer = setTimeout(() => {
      if (!this.ready) this.close(CLOSE.initTimeout);
    }, INIT_TIMEOUT_MS);
  }

  receive(raw: Buffer | ArrayBuffer | Buffer[]): void {
    let message: ClientMessage;
    try {
      message = JSON.parse(
        Buffer.isBuffer(raw) ? raw.toString('utf8') : Buffer.from(raw as ArrayBuffer).toString('utf8'),
      );
    } catch (err) {
      this.fail((err as Error).message);
      return;
    }
    if (message === null || typeof message !== 'object') {
      this.fail('a message must be a JSON object');
      return;
    }
    if (message.type === 'init') this.init(message);
    else if (message.type === 'data') this.data(message);
    else if (message.type === 'signal') this.signal(message);
    // Piston ignores any other type.
  }

  /** The client went away: a job still running is not needed any more. */
  gone(): void {
    clearTimeout(this.initTimer);
    this.abort.abort();
    // Closed before the exit (by the client, or after an error of ours): the job is not needed any more.
    if (!this.finished && this.jobId) this.deps.piston.cancel(this.jobId, this.tenant).catch(() => {});
    this.over = true;
  }

  private init(message: ClientMessage): void {
    if (this.ready) {
      this.close(CLOSE.alreadyInitialized);
      return;
    }
    clearTimeout(this.initTimer);
    this.ready = this.start(message);
  }

  private async start(message: ClientMessage): Promise<string | null> {
    try {
      const job = await this.deps.piston.prepare(message, this.tenant);
      // Piston's socket writes only what data messages bring: the init's stdin is not the program's.
      job.request.stdin = '';
      const id = await this.deps.piston.submit(job, this.req.id, this.tenant, true);
      this.jobId = id;
      // The client left while the job was being queued: gone() could not stop it then.
      if (this.over) await this.deps.piston.cancel(id, this.tenant).catch(() => {});
      this.send({ type: 'runtime', language: job.runtime.language, version: job.runtime.version });
      void this.follow(id, job).catch((err: Error) => this.fail(err.message));
      return id;
    } catch (err) {
      this.fail((err as Error).message);
      return null;
    }
  }

  /** The job's live events as Piston's messages, until its exit. */
  private async follow(id: string, job: PistonJob): Promise<void> {
    const feed = await this.deps.piston.feed(id, this.tenant);
    if (!feed || feed.done) throw new Error(`job ${id} has no events`);
    for await (const message of feed.messages(this.abort.signal)) {
      if (this.over) return;
      if (message.event === 'status' && (message.data as { state?: string }).state === 'running') this.stage();
      else if (message.event === 'stdout' || message.event === 'stderr') {
        this.stage();
        const text = (message.data as { text?: string }).text;
        if (typeof text === 'string') this.send({ type: 'data', stream: message.event, data: text });
      } else if (message.event === 'result') {
        const result = (message.data as JobView).result;
        if (result) {
          this.exit(job, result);
          return;
        }
      }
    }
  }

  private stage(): void {
    if (this.stageSent) return;
    this.stageSent = true;
    this.send({ type: 'stage', stage: 'run' });
  }

  private exit(job: PistonJob, result: RunResult): void {
    this.stage();
    const { run } = this.deps.piston.answer(job, result, null);
    this.finished = true;
    this.send({ type: 'exit', stage: 'run', code: run.code, signal: this.signalled ?? run.signal });
    this.close(CLOSE.completed);
  }

  private data(message: ClientMessage): void {
    if (!this.ready) {
      this.close(CLOSE.notInitialized);
      return;
    }
    if (message.stream !== 'stdin') {
      this.close(CLOSE.stdinOnly);
      return;
    }
    const data = typeof message.data === 'string' ? message.data : String(message.data ?? '');
    const offset = this.sentBytes;
    this.sentBytes += Buffer.byteLength(data, 'utf8');
    const ready = this.ready;
    // In order, each after the last was accepted: offsets make a repeated call harmless, not a reordered one.
    this.inputs = this.inputs.then(async () => {
      const id = await ready;
      if (id && !this.over) await this.deps.input.send(id, this.tenant, { data, offset });
    });
    this.inputs.catch((err: Error) => this.fail(err.message));
  }

  private signal(message: ClientMessage): void {
    if (!this.ready) {
      this.close(CLOSE.notInitialized);
      return;
    }
    const name = typeof message.signal === 'string' ? message.signal : '';
    const number = signalNumber(name);
    if (number === null || signalName(number) !== name) {
      this.close(CLOSE.invalidSignal);
      return;
    }
    this.signalled = name;
    const ready = this.ready;
    void ready.then((id) => (id ? this.deps.piston.cancel(id, this.tenant) : undefined)).catch(() => {});
  }

  private send(message: object): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(message));
  }

  /** Piston tells an error in a message, then closes: a close reason holds at most 123 bytes. */
  private fail(message: string): void {
    if (this.over) return;
    this.send({ type: 'error', message });
    this.close(CLOSE.notifiedError);
  }

  private close([code, reason]: readonly [number, string]): void {
    this.over = true;
    clearTimeout(this.initTimer);
    this.abort.abort();
    if (this.socket.readyState === this.socket.OPEN) this.socket.close(code, reason);
  }
}

/** Serves one /api/v2/connect socket until it closes. */
export function connectSession(socket: WebSocket, req: FastifyRequest, deps: SessionDeps): void {
  const session = new PistonSession(socket, req, deps);
  socket.on('message', (raw: Buffer) => session.receive(raw));
  socket.on('close', () => session.gone());
}
