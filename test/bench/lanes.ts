/**
 * The "interactive under burst" row of `npm run bench` (alone: `npm run bench:lanes`): tenant B's
 * sequential POST /run on an idle service, then the same requests while tenant A has
 * BENCH_LANES_BACKLOG (500) batch jobs queued; and tenant C's single batch job queued behind A's
 * backlog, against the README's bound (the jobs already taken, one per worker slot, plus one round
 * of A's). All in one run, on one service; writes docs/benchmarks-lanes.md (BENCH_LANES_OUTPUT, `-`
 * to only print).
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashApiKey, type RunResult } from '@sbx/shared';
import { startStack } from '../support/stack.js';
import { CODE, EXPECTED, envCount } from './commands.js';
import { LONG_JOB, runsBehindLongJobs } from './long-jobs.js';
import { describeMachine } from './machine.js';
import { waitForPoolAtRest } from './pool.js';
import { SbxHttp } from './sbx-http.js';
import { percentile } from './stats.js';

const SETTINGS = {
  backlog: envCount('BENCH_LANES_BACKLOG', 500),
  runs: envCount('BENCH_LANES_RUNS', 20),
  concurrency: 2,
  output: process.env.BENCH_LANES_OUTPUT ?? fileURLToPath(new URL('../../docs/benchmarks-lanes.md', import.meta.url)),
};
const TARGET = { p50: 2, p95: 3 };
/** Tenant `hog` runs at most `cap` jobs at once; tenant `free` has no cap (the baseline). */
const LONG = { cap: 1, rounds: envCount('BENCH_LANES_LONG_ROUNDS', 5) };

const started = performance.now();
const log = (m: string) =>
  process.stderr.write(`[bench:lanes ${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${m}\n`);

const keys = { a: '', b: '', c: '', hog: '', free: '' };
for (const t of Object.keys(keys) as (keyof typeof keys)[]) keys[t] = `sk_${randomBytes(16).toString('hex')}`;
const file = join(tmpdir(), `sbx-bench-lanes-${randomBytes(4).toString('hex')}.json`);
await writeFile(
  file,
  JSON.stringify(
    Object.entries(keys).map(([id, key]) => ({
      id,
      key_sha256: [hashApiKey(key)],
      max_queued: 100_000,
      ...(id === 'hog' ? { max_running: LONG.cap } : {}),
    })),
  ),
);

const startOf = (r: RunResult) => Date.parse(r.submitted_at) + (r.stages?.queued ?? 0) * 1000;
const check = (r: RunResult) => {
  if (r.status !== 'ok' || r.stdout !== EXPECTED) throw new Error(`expected ok and 4, got ${JSON.stringify(r)}`);
};

const stack = await startStack({
  env: {
    SBX_TENANTS_FILE: file,
    SBX_WORKER_CONCURRENCY: String(SETTINGS.concurrency),
    SBX_RATE_PER_MINUTE: '1000000',
    SBX_LOG_LEVEL: 'error',
    SBX_POOL_MIN: '2',
    SBX_POOL_MAX: '32',
  },
});
try {
  await stack.app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(stack.app.server.address() as AddressInfo).port}`;
  const [a, b, c] = [new SbxHttp(base, keys.a), new SbxHttp(base, keys.b), new SbxHttp(base, keys.c)];
  const [hog, free] = [new SbxHttp(base, keys.hog), new SbxHttp(base, keys.free)];
  const machine = await describeMachine(stack.config.sandboxes.python.image, '/usr/bin/python3', stack.config.runtime);
  const runsOf: Record<'idle' | 'burst', RunResult[]> = { idle: [], burst: [] };
  const sequentialRuns = async (into: RunResult[]) => {
    const seconds: number[] = [];
    for (let i = 0; i < SETTINGS.runs; i++) {
      const t = await b.run({ code: CODE });
      check(t.result);
      seconds.push(t.seconds);
      into.push(t.result);
    }
    return seconds;
  };

  log('warm-up: 3 POST /run');
  for (let i = 0; i < 3; i++) check((await b.run({ code: CODE })).result);
  // An idle service: its pool full, as after a quiet minute.
  await waitForPoolAtRest(stack.worker?.metrics.registry, 2, {
    until: 'full',
    restMs: 0,
    timeoutMs: 60_000,
    fallbackMs: 5000,
  });
  log(`idle: ${SETTINGS.runs} sequential POST /run by tenant B`);
  const idle = await sequentialRuns(runsOf.idle);

  log(`burst: tenant A queues ${SETTINGS.backlog} batch jobs`);
  const backlog = await a.submit(Array.from({ length: SETTINGS.backlog }, () => ({ code: CODE })));
  log(`under burst: ${SETTINGS.runs} sequential POST /run by tenant B; tenant C queues one batch job`);
  const cSent = Date.now();
  const [cId] = await c.submit([{ code: CODE }]);
  const burst = await sequentialRuns(runsOf.burst);
  const [cResult] = await c.results([cId as string]);
  if (!cResult) throw new Error('tenant C has no result');
  check(cResult);
  log('waiting for the backlog');
  const aResults = await a.results(backlog);
  aResults.forEach(check);
  const cStart = startOf(cResult);
  const aheadOfC = aResults.filter((r) => startOf(r) > cSent && startOf(r) < cStart).length;
  const leftAtC = aResults.filter((r) => startOf(r) > cStart).length;
  const span =
    (Math.max(...aResults.map((r) => Date.parse(r.finished_at))) - Math.min(...aResults.map(startOf))) / 1000;
  const perJob = (span / aResults.length) * SETTINGS.concurrency;
  const bound = SETTINGS.concurrency + 1;

  log(`long jobs: ${LONG.rounds} rounds of tenant B's POST /run behind two long jobs, uncapped then capped`);
  const behindFree = await runsBehindLongJobs(free, b, LONG.rounds);
  const behindHog = await runsBehindLongJobs(hog, b, LONG.rounds);
  const slotSeconds = LONG_JOB.tests.length * 1.5;

  const ms = (s: number) => `${Math.round(s * 1000)} ms`;
  const row = (label: string, xs: number[]) => `| ${label} | ${ms(percentile(xs, 50))} | ${ms(percentile(xs, 95))} |`;
  const stage = (rs: RunResult[], pick: (s: NonNullable<RunResult['stages']>) => number) =>
    ms(
      percentile(
        rs.map((r) => (r.stages ? pick(r.stages) : 0)),
        50,
      ),
    );
  const stages = (label: string, rs: RunResult[]) =>
    `| ${label} | ${stage(rs, (s) => s.queued)} | ${stage(rs, (s) => s.sandbox)} | ${stage(rs, (s) => s.run)} | ${rs.filter((r) => r.stages?.warm).length} of ${rs.length} |`;
  const ratio = (p: number) => percentile(burst, p) / percentile(idle, p);
  const verdict = (p: 50 | 95, limit: number) =>
    `${ratio(p).toFixed(2)}× (target ≤ ${limit}×: ${ratio(p) <= limit ? 'met' : 'MISSED'})`;
  const report = `# Benchmark: interactive under burst

Measured ${new Date().toISOString().slice(0, 10)} by \`npm run bench:lanes\` (also the last step of \`npm run bench\`) on
${machine.cpuModel} (${machine.cores} cores), ${machine.runtime}; one worker with ${SETTINGS.concurrency} slots, warm pool 2..32.

Tenant B sends ${SETTINGS.runs} \`POST /run\` of \`${CODE}\` one after another, first on an idle service, then while
tenant A has ${SETTINGS.backlog} batch jobs queued (\`POST /jobs/batch\`). Client wall time:

| tenant B's POST /run | p50 | p95 |
| --- | --- | --- |
${row('idle service', idle)}
${row(`behind A's ${SETTINGS.backlog} batch jobs`, burst)}

Where those requests spent their time (p50 of each result's \`stages\`):

| tenant B's POST /run | queued | sandbox | run | warm sandbox |
| --- | --- | --- | --- | --- |
${stages('idle service', runsOf.idle)}
${stages('behind the backlog', runsOf.burst)}

Under the burst, p50 is ${verdict(50, TARGET.p50)} and p95 ${verdict(95, TARGET.p95)} the idle figure.

Tenant C queued one batch job just after A's backlog: it waited ${ms(cResult.stages?.queued ?? Number.NaN)} in the queue,
while ${aheadOfC} of A's jobs started between its arrival and its start (the README's bound: the ${SETTINGS.concurrency} already taken, one
per slot, plus one round of A's: ${bound}; ${aheadOfC <= bound ? 'met' : 'MISSED'}), and ${leftAtC} of A's ${SETTINGS.backlog} started after it.
A's backlog ran at ${(aResults.length / span).toFixed(1)} jobs/s (${ms(perJob)} per job and slot).

## Behind another tenant's long jobs

A tenant sends two \`POST /jobs\`, each ${LONG_JOB.tests.length} tests of \`time.sleep(1.5)\` (${slotSeconds} s of slot time each), and
once they run tenant B sends one \`POST /run\` (${LONG.rounds} rounds each; the long jobs are cancelled after B's answer).
With no cap the two jobs hold both slots; at \`max_running: ${LONG.cap}\` the second waits and a slot stays free (the README's
bound: B waits for no slot while the tenants running long jobs hold fewer than S slots between them).

| tenant B's POST /run | p50 | max |
| --- | --- | --- |
| idle service | ${ms(percentile(idle, 50))} | ${ms(Math.max(...idle))} |
| behind an uncapped tenant's two long jobs (baseline) | ${ms(percentile(behindFree, 50))} | ${ms(Math.max(...behindFree))} |
| behind a tenant at \`max_running: ${LONG.cap}\` | ${ms(percentile(behindHog, 50))} | ${ms(Math.max(...behindHog))} |
`;
  process.stdout.write(report);
  if (SETTINGS.output !== '-') {
    writeFileSync(SETTINGS.output, report);
    log(`written to ${SETTINGS.output}`);
  }
} finally {
  await stack.stop();
  await rm(file, { force: true });
}
