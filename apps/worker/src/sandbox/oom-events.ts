import type Docker from 'dockerode';

/**
 * Docker's `oom` events for this worker's sandboxes. An inspect's `State.OOMKilled` is not enough:
 * Docker often handles the exit before the OOM event (8 of 16 runs of a 150 MB allocation under a
 * 128 MB limit), and under load it still said false a second later, while the event itself came
 * for every one of them.
 */
export class OomEvents {
  /**
   * `<action>:<container id>` → when its event came: `oom`, and `kill` (a kill through the engine:
   * ours, or its own on shutdown, or an operator's `docker stop`/`kill`), which tells a sandbox the
   * engine stopped from one the program inside brought down.
   */
  private readonly seen = new Map<string, number>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private stream: NodeJS.ReadableStream | null = null;
  /** When the last stream dropped: its replacement asks Docker to replay from there. */
  private droppedAt: number | null = null;
  private closed = false;

  constructor(
    private readonly docker: Docker,
    /** `key=value` of a label every watched container carries. */
    private readonly label: string,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /** Resolves once the event stream is open; it reopens by itself if Docker drops it. */
  async start(): Promise<void> {
    await this.connect();
  }

  /** Whether an event (OOM unless said) came for the container, waiting up to `ms` for one still on its way. */
  happened(container: string, ms: number, action: 'oom' | 'kill' = 'oom'): Promise<boolean> {
    const id = `${action}:${container}`;
    if (this.seen.has(id)) return Promise.resolve(true);
    if (ms <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiting = this.waiters.get(id) ?? new Set<() => void>();
      this.waiters.set(id, waiting);
      const timer = setTimeout(() => {
        waiting.delete(done);
        if (waiting.size === 0) this.waiters.delete(id);
        resolve(false);
      }, ms);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      waiting.add(done);
    });
  }

  /** The container is gone: nothing will ask about it again. */
  forget(container: string): void {
    this.seen.delete(`oom:${container}`);
    this.seen.delete(`kill:${container}`);
  }

  close(): void {
    this.closed = true;
    const stream = this.stream as (NodeJS.ReadableStream & { destroy?: () => void }) | null;
    this.stream = null;
    stream?.destroy?.();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    try {
      const stream = await this.docker.getEvents({
        filters: { type: ['container'], event: ['oom', 'kill'], label: [this.label] },
        ...(this.droppedAt === null ? {} : { since: Math.floor(this.droppedAt / 1000) - 1 }),
      });
      if (this.closed) {
        (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
        return;
      }
      this.stream = stream;
      let pending = '';
      stream.on('data', (chunk: Buffer | string) => {
        pending += chunk.toString();
        for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
          this.record(pending.slice(0, nl));
          pending = pending.slice(nl + 1);
        }
      });
      const reopen = () => {
        if (this.stream !== stream) return;
        this.stream = null;
        this.droppedAt = Date.now();
        this.retrySoon();
      };
      stream.once('end', reopen);
      stream.once('close', reopen);
      stream.once('error', reopen);
    } catch (err) {
      this.onError(err);
      this.retrySoon();
    }
  }

  private retrySoon(): void {
    if (!this.closed) setTimeout(() => void this.connect(), RECONNECT_MS).unref();
  }

  private record(line: string): void {
    let id: string | undefined;
    try {
      const event = JSON.parse(line) as { id?: string; Action?: string; status?: string; Actor?: { ID?: string } };
      const container = event.Actor?.ID ?? event.id;
      const action = event.Action ?? event.status;
      if (container && (action === 'oom' || action === 'kill')) id = `${action}:${container}`;
    } catch {
      return;
    }
    if (!id) return;
    this.seen.set(id, Date.now());
    for (const done of this.waiters.get(id) ?? []) done();
    this.waiters.delete(id);
    // Sandboxes are forgotten on removal; this only bounds what a crashed removal leaves behind.
    const stale = Date.now() - STALE_MS;
    for (const [known, at] of this.seen) if (at < stale) this.seen.delete(known);
  }
}

const RECONNECT_MS = 1000;
const STALE_MS = 10 * 60_000;
