/** Waiting in tests: one loop with a deadline, instead of one per test file. */
import type { JobView } from '@sbx/shared';
import type { FastifyInstance } from 'fastify';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Reads until `done` accepts a value or `timeoutMs` passes (one read always happens). Returns the
 * last value either way, so the assertion that follows can show what was there instead.
 */
export async function pollUntil<T>(
  read: () => Promise<T> | T,
  done: (value: T) => boolean,
  timeoutMs: number,
  intervalMs = 50,
): Promise<{ value: T; settled: boolean }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return { value, settled: true };
    if (Date.now() >= deadline) return { value, settled: false };
    await sleep(intervalMs);
  }
}

/** True once `check` holds; false if it never did in time. */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  intervalMs = 50,
): Promise<boolean> {
  return (await pollUntil(check, (ok) => ok, timeoutMs, intervalMs)).settled;
}

/** GET /jobs/:id (through inject, with `headers` for a tenant's key) until `done` accepts the view; the last view either way. */
export async function pollJob(
  app: FastifyInstance,
  id: string,
  done: (view: JobView) => boolean,
  timeoutMs: number,
  intervalMs = 25,
  headers: Record<string, string> = {},
): Promise<JobView> {
  const read = async () => (await app.inject({ method: 'GET', url: `/jobs/${id}`, headers })).json() as JobView;
  return (await pollUntil(read, done, timeoutMs, intervalMs)).value;
}
