/**
 * A value read at most once per `ttlMs`. A read that fails is not kept: the error goes to the caller
 * and the next call reads again. Calls that arrive while a read is out each read for themselves.
 */
export class TimedCache<T> {
  private last: { at: number; value: T } | null = null;

  constructor(
    private readonly ttlMs: number,
    /** Gets the time of the call, for reads that judge by it. */
    private readonly read: (now: number) => Promise<T>,
    private readonly clock: () => number = Date.now,
  ) {}

  async get(): Promise<T> {
    const now = this.clock();
    if (!this.last || now - this.last.at > this.ttlMs) this.last = { at: now, value: await this.read(now) };
    return this.last.value;
  }
}
