import type { JobData } from '@sbx/shared';
import { SandboxLostError } from './sandbox/docker-runner.js';

/**
 * Past its time limits by this much, a run is given up as lost: every step of a run is bounded on
 * its own (start, deadline, output drain, OOM wait), so only an engine that stopped answering a
 * request (seen after a dockerd SIGKILL) gets here, and the job must not hang with it.
 */
const WATCHDOG_SLACK_MS = 90_000;

/** An interactive job's time limit bounds its CPU time: its wall clock is bounded by its own bound. */
export const watchdogMs = (data: JobData) =>
  (data.tests ?? []).reduce((sum, t) => sum + t.limits.time_ms, data.interactive?.wall_ms ?? data.limits.time_ms) +
  WATCHDOG_SLACK_MS;

/** The run, or a SandboxLostError once `ms` have passed without it (the run is left to settle on its own). */
export function withinWatchdog<T>(run: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new SandboxLostError(
            `the run did not end within ${Math.round(ms / 1000)} s: the Docker engine stopped answering`,
          ),
        ),
      ms,
    );
  });
  run.catch(() => {}); // settles after the watchdog, or never: nobody waits for it then
  return Promise.race([run, expired]).finally(() => clearTimeout(timer));
}
