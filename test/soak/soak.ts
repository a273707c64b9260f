/**
 * The soak: many mixed jobs through the real stack (an API and a worker, each its own process, on
 * the machine's Redis, Docker and runsc), with the verdict every program must get known in
 * advance. Measures throughput, the processes' memory along the way, what Redis holds, and what is
 * left behind. `npm run soak` runs 10,000 and writes docs/reliability.md; the suite runs 500
 * (test/sandbox/soak.test.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SbxClient } from '@sbx/client';
import type { JobView, RunResult } from '@sbx/shared';
import { Redis } from 'ioredis';
import { awaitNothingLeft, type BurstJob, type leftBehind, wrongVerdicts } from '../support/burst.js';
import { freePort } from '../support/ports.js';
import { deleteKeys, REDIS_URL } from '../support/stack.js';
import { spawnApi, spawnWorker, stopWorker } from '../support/worker-process.js';

/** Twenty kinds of job, cycled: mostly what real users send, with every limit hit in proportion. */
export function soakJob(i: number): BurstJob {
  const kind = i % 20;
  if (kind < 10) return { body: { code: `print(${i})` }, status: 'ok', stdout: `${i}\n` };
  if (kind < 12)
    return { body: { code: `import time\ntime.sleep(0.2)\nprint(${i} * 2)` }, status: 'ok', stdout: `${i * 2}\n` };
  if (kind < 14) return { body: { code: `raise ValueError(${i})` }, status: 'runtime_error' };
  if (kind === 14) return { body: { code: 'while True: pass', limits: { time_ms: 500 } }, status: 'timeout' };
  if (kind < 17) return { body: { code: 'x = bytearray(150 * 2**20)\nx[-1] = 1' }, status: 'memory_limit' };
  if (kind === 17)
    return { body: { code: 'import sys\nwhile True: sys.stdout.write("x" * 65536)' }, status: 'output_limit' };
  if (kind === 18)
    return {
      body: {
        code: 'n = int(input())\nprint(n * n)',
        tests: [
          { stdin: `${i}\n`, expected_output: `${i * i}\n` },
          { stdin: '3\n', expected_output: '10\n' },
        ],
      },
      status: 'ok',
      verdicts: ['accepted', 'wrong_answer'],
    };
  return { body: { code: `import json\nprint(json.dumps({"i": ${i}}))` }, status: 'ok', stdout: `{"i": ${i}}\n` };
}

export interface Sample {
  at: string;
  done: number;
  apiRssMb: number;
  workerRssMb: number;
  redisKeys: number;
  redisUsedMb: number;
}

export interface SoakReport {
  jobs: number;
  seconds: number;
  jobsPerSecond: number;
  /** Verdict counts: what came back, and what the programs must get. */
  got: Record<string, number>;
  want: Record<string, number>;
  wrong: string[];
  lost: number;
  samples: Sample[];
  left: Awaited<ReturnType<typeof leftBehind>>;
  errorLines: string[];
  config: Record<string, string>;
}

const rssMb = (pid: number | undefined) => {
  const status = pid ? readFileSync(`/proc/${pid}/status`, 'utf8') : '';
  return Math.round(Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0) / 1024);
};

async function redisFigures(redis: Redis, prefix: string) {
  let keys = 0;
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    keys += found.length;
  } while (cursor !== '0');
  const used = /^used_memory:(\d+)/m.exec(await redis.info('memory'))?.[1] ?? '0';
  return { redisKeys: keys, redisUsedMb: Math.round(Number(used) / 2 ** 20) };
}

const tally = (statuses: string[]) =>
  statuses.reduce<Record<string, number>>((acc, s) => {
    acc[s] = (acc[s] ?? 0) + 1;
    return acc;
  }, {});

/** Runs `jobs` mixed jobs with `inFlight` callers at a time; `progress` hears about each sample. */
export async function runSoak(opts: {
  jobs: number;
  inFlight?: number;
  progress?: (s: Sample) => void;
  /** The job to send as number i: soakJob by default. */
  jobOf?: (i: number) => BurstJob;
}): Promise<SoakReport> {
  const jobOf = opts.jobOf ?? soakJob;
  const prefix = `sbxsoak-${randomBytes(4).toString('hex')}`;
  const port = await freePort();
  const config = {
    SBX_REDIS_URL: REDIS_URL,
    SBX_PREFIX: prefix,
    SBX_API_HOST: '127.0.0.1',
    SBX_API_PORT: String(port),
    SBX_WORKER_ID: `${prefix}-worker`,
    SBX_WORKER_CONCURRENCY: '2',
    SBX_POOL_MIN: '2',
    SBX_POOL_MAX: '4',
  };
  const errorLines: string[] = [];
  // pino: 50 is error, 60 fatal. Anything at that level during a clean soak is a finding.
  const watchLog = (line: string) => {
    if (/"level":(50|60)/.test(line)) errorLines.push(line.slice(0, 300));
  };
  const redis = new Redis(REDIS_URL);
  let api: ChildProcess | null = null;
  let worker: ChildProcess | null = null;
  try {
    api = await spawnApi(config, watchLog);
    worker = await spawnWorker(config, watchLog);
    const client = new SbxClient({ baseUrl: `http://127.0.0.1:${port}` });
    const samples: Sample[] = [];
    const results: (RunResult | null)[] = new Array(opts.jobs).fill(null);
    let next = 0;
    let done = 0;
    const sampleAt = new Set([Math.ceil(opts.jobs * 0.05), Math.ceil(opts.jobs / 2), opts.jobs]);
    const sample = async (at: string) => {
      const s = {
        at,
        done,
        apiRssMb: rssMb(api?.pid),
        workerRssMb: rssMb(worker?.pid),
        ...(await redisFigures(redis, prefix)),
      };
      samples.push(s);
      opts.progress?.(s);
    };
    await sample('start');
    const started = performance.now();
    const caller = async () => {
      for (let i = next++; i < opts.jobs; i = next++) {
        const job = jobOf(i);
        try {
          const id = await client.submit(job.body as never, { retries: 5 });
          results[i] = await client.wait(id, { timeoutMs: 120_000 });
        } catch {
          results[i] = null; // counted as lost below
        }
        done += 1;
        if (sampleAt.has(done))
          await sample(done === opts.jobs ? 'end' : done === Math.ceil(opts.jobs / 2) ? 'middle' : 'after warm-up');
      }
    };
    await Promise.all(Array.from({ length: opts.inFlight ?? 32 }, caller));
    const seconds = (performance.now() - started) / 1000;
    const jobs = Array.from({ length: opts.jobs }, (_, i) => jobOf(i));
    const views = results.map((r) =>
      r ? ({ id: r.id, state: 'completed', result: r } as unknown as JobView) : undefined,
    );
    const wrong = wrongVerdicts(jobs, views).filter((line) => !/got (missing|unknown)/.test(line));
    await stopWorker(worker);
    worker = null;
    await stopWorker(api);
    api = null;
    const left = await awaitNothingLeft(prefix, 30_000);
    return {
      jobs: opts.jobs,
      seconds,
      jobsPerSecond: opts.jobs / seconds,
      got: tally(results.map((r) => r?.status ?? 'lost')),
      want: tally(jobs.map((j) => j.status)),
      wrong,
      lost: results.filter((r) => r === null).length,
      samples,
      left,
      // An error line names a job by id: say which program it ran, so a finding can be reproduced.
      errorLines: errorLines.map((line) => {
        const at = results.findIndex((r) => r !== null && line.includes(r.id));
        return at < 0 ? line : `${line} [job ${at}: ${JSON.stringify(jobs[at]?.body).slice(0, 120)}]`;
      }),
      config: {
        SBX_WORKER_CONCURRENCY: config.SBX_WORKER_CONCURRENCY,
        SBX_POOL_MIN: config.SBX_POOL_MIN,
        SBX_POOL_MAX: config.SBX_POOL_MAX,
        callers: String(opts.inFlight ?? 32),
      },
    };
  } finally {
    if (worker) await stopWorker(worker, 'SIGKILL');
    if (api) await stopWorker(api, 'SIGKILL');
    await deleteKeys(prefix);
    redis.disconnect();
  }
}

/** How much a process's memory may grow from the warm-up sample to the end and still count as flat. */
export const FLAT_MB = 30;

export function rssGrowth(report: SoakReport): { api: number; worker: number } {
  const warm = report.samples.find((s) => s.at === 'after warm-up') ?? report.samples[0];
  const end = report.samples.at(-1);
  return {
    api: (end?.apiRssMb ?? 0) - (warm?.apiRssMb ?? 0),
    worker: (end?.workerRssMb ?? 0) - (warm?.workerRssMb ?? 0),
  };
}
