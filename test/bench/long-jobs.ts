/**
 * The "long jobs" rows of `npm run bench:lanes`: one tenant sends two POST /jobs, each five tests of
 * `time.sleep(1.5)` (7.5 s of slot time), and once they run another tenant sends one POST /run. Once
 * against a tenant with no running cap (the baseline: both slots held) and once against one capped
 * at `max_running: 1`, in the same run on the same service.
 */
import { CODE, EXPECTED } from './commands.js';
import type { SbxHttp } from './sbx-http.js';

export const LONG_JOB = {
  code: 'import time\ntime.sleep(1.5)',
  tests: Array.from({ length: 5 }, () => ({ stdin: '', expected_output: '' })),
};
const JOBS_PER_ROUND = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Seconds tenant `other` waited for each of `rounds` POST /run while `hog` had its long jobs in. */
export async function runsBehindLongJobs(hog: SbxHttp, other: SbxHttp, rounds: number): Promise<number[]> {
  const seconds: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const ids: string[] = [];
    for (let j = 0; j < JOBS_PER_ROUND; j++) ids.push(await hog.submitOne(LONG_JOB));
    // Once the first runs: the second is running too (no cap) or parked behind the cap.
    const deadline = Date.now() + 60_000;
    while ((await hog.state(ids[0] as string)) !== 'running') {
      if (Date.now() > deadline) throw new Error('the long job never started');
      await sleep(50);
    }
    await sleep(300);
    const t = await other.run({ code: CODE });
    if (t.result.status !== 'ok' || t.result.stdout !== EXPECTED) throw new Error(JSON.stringify(t.result));
    seconds.push(t.seconds);
    // The point is made: stop them rather than wait out their slot time, and wait until both slots are free.
    await Promise.all(ids.map((id) => hog.cancel(id)));
    await hog.results(ids, 200, 60_000);
  }
  return seconds;
}
