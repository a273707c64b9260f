/**
 * A burst of mixed jobs for the fault suite: programs whose verdicts are known in advance (ok,
 * timeouts, memory bombs, output floods, test-case jobs), a way to count how often each job
 * completed, and the checks every fault must pass afterwards.
 */
import { execFileSync } from 'node:child_process';
import type { JobView, RunStatus } from '@sbx/shared';
import { CONTAINERD_SOCKETS, LABELS } from '@sbx/worker';
import { QueueEvents } from 'bullmq';
import Docker from 'dockerode';
import { pollUntil } from './poll.js';

export interface BurstJob {
  body: Record<string, unknown>;
  status: RunStatus;
  stdout?: string;
  /** Per-test verdicts, for a test-case job. */
  verdicts?: string[];
}

const SQUARES = ['line = input()', 'if line == "loop":', '    while True: pass', 'print(int(line) ** 2)'].join('\n');

/** `size` jobs, cycling through every kind; each ok job prints something of its own. */
export function mixedBurst(size: number): BurstJob[] {
  const kinds: ((i: number) => BurstJob)[] = [
    (i) => ({ body: { code: `import time\ntime.sleep(0.8)\nprint(${i})` }, status: 'ok', stdout: `${i}\n` }),
    (i) => ({ body: { code: `print(${i} * 3)` }, status: 'ok', stdout: `${i * 3}\n` }),
    () => ({ body: { code: 'while True: pass', limits: { time_ms: 1000 } }, status: 'timeout' }),
    () => ({ body: { code: 'x = bytearray(150 * 2**20)\nx[-1] = 1' }, status: 'memory_limit' }),
    () => ({ body: { code: 'import sys\nwhile True: sys.stdout.write("x" * 65536)' }, status: 'output_limit' }),
    (i) => ({
      body: {
        code: SQUARES,
        tests: [
          { stdin: `${i}\n`, expected_output: `${i * i}\n` },
          { stdin: 'loop\n', expected_output: '0\n', limits: { time_ms: 300 } },
          { stdin: '2\n', expected_output: '5\n' },
        ],
      },
      status: 'timeout',
      verdicts: ['accepted', 'timeout', 'wrong_answer'],
    }),
    (i) => ({
      body: { code: `print("${'y'.repeat(40)}" * ${(i % 7) + 1})` },
      status: 'ok',
      stdout: `${'y'.repeat(40 * ((i % 7) + 1))}\n`,
    }),
  ];
  return Array.from({ length: size }, (_, i) => (kinds[i % kinds.length] as (i: number) => BurstJob)(i));
}

/** Lines describing each job whose result is not what its program must get: empty when all are right. */
export function wrongVerdicts(jobs: BurstJob[], views: (JobView | undefined)[]): string[] {
  const wrong: string[] = [];
  jobs.forEach((job, i) => {
    const view = views[i];
    const r = view?.result;
    const got = r
      ? `${r.status}${r.stdout !== undefined && job.stdout !== undefined ? ` ${JSON.stringify(r.stdout.slice(0, 40))}` : ''}`
      : `${view?.state ?? 'missing'}`;
    const verdicts = r?.tests?.map((t) => t.verdict);
    const right =
      r?.status === job.status &&
      (job.stdout === undefined || r.stdout === job.stdout) &&
      (job.verdicts === undefined || JSON.stringify(verdicts) === JSON.stringify(job.verdicts));
    if (!right)
      wrong.push(
        `#${i} ${String(job.body.code).split('\n').pop()}: want ${job.status}, got ${got} (${view?.id})${verdicts ? ` [${verdicts}]` : ''} after ${r?.attempts ?? '?'} attempts: ${r?.message ?? ''}`,
      );
  });
  return wrong;
}

/** Polls every job until all are completed (or the time is up); the last view of each either way. */
export async function awaitAll(
  ids: string[],
  view: (id: string) => Promise<JobView>,
  timeoutMs: number,
): Promise<JobView[]> {
  const last = new Map<string, JobView>();
  const finished = () => ids.filter((id) => last.get(id)?.state === 'completed').length;
  await pollUntil(
    async () => {
      for (const id of ids) {
        if (last.get(id)?.state === 'completed') continue;
        try {
          last.set(id, await view(id));
        } catch {
          // The API may be the thing that is down: ask again next round.
        }
      }
      return finished();
    },
    (n) => n === ids.length,
    timeoutMs,
    250,
  );
  return ids.map((id) => last.get(id) ?? ({ id, state: 'unknown' } as unknown as JobView));
}

/**
 * Counts BullMQ's `completed` events per job: a job that completed twice (run again after its
 * result was stored, the second result overwriting the first) shows as 2. Start it before the burst.
 */
export class CompletionCount {
  private readonly events: QueueEvents;
  readonly counts = new Map<string, number>();

  constructor(redisUrl: string, queueName: string, prefix: string) {
    this.events = new QueueEvents(queueName, { connection: { url: redisUrl }, prefix });
    this.events.on('error', () => {});
    this.events.on('completed', ({ jobId }) => this.counts.set(jobId, (this.counts.get(jobId) ?? 0) + 1));
  }

  ready(): Promise<void> {
    return this.events.waitUntilReady().then(() => undefined);
  }

  /** Jobs that did not complete exactly once, as "id: n". */
  notOnce(ids: string[]): string[] {
    return ids.filter((id) => this.counts.get(id) !== 1).map((id) => `${id}: ${this.counts.get(id) ?? 0}`);
  }

  close(): Promise<void> {
    return this.events.close();
  }
}

const docker = new Docker();

/**
 * What a deployment left on the engine and the host: its containers; runsc sandbox processes whose
 * container is no longer running (runsc outliving its container); and sandboxes containerd holds
 * that Docker has forgotten (a dockerd killed mid-start leaves those).
 */
export async function leftBehind(
  prefix: string,
): Promise<{ containers: string[]; runsc: string[]; forgotten: string[] }> {
  const containers = await docker.listContainers({ all: true, filters: { label: [`${LABELS.prefix}=${prefix}`] } });
  const all = await docker.listContainers({ all: true });
  const running = new Set(all.filter((c) => c.State === 'running').map((c) => c.Id));
  const known = new Set(all.map((c) => c.Id));
  const processes = execFileSync('sh', ['-c', 'pgrep -a -f "^runsc-sandbox " || true'], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
  const orphans = processes.filter((line) => {
    const id = line.trim().split(/\s+/).pop() ?? '';
    return /^[0-9a-f]{64}$/.test(id) && !running.has(id);
  });
  const held = execFileSync(
    'sh',
    ['-c', `ctr --address ${CONTAINERD_SOCKETS[0]} --namespace moby containers ls --quiet 2>/dev/null || true`],
    { encoding: 'utf8' },
  )
    .split('\n')
    .filter((id) => /^[0-9a-f]{64}$/.test(id) && !known.has(id));
  return {
    containers: containers.map((c) => `${c.Id.slice(0, 12)} ${c.State}`),
    runsc: orphans.map((l) => l.slice(0, 200)),
    forgotten: held.map((id) => id.slice(0, 12)),
  };
}

/** Nothing at all of the deployment: for after it has stopped. */
export const NOTHING_LEFT = { containers: [], runsc: [], forgotten: [] };

/** Waits (bounded) until `clean` accepts what is left; the last finding either way. */
export async function awaitNothingLeft(
  prefix: string,
  timeoutMs = 20_000,
  clean: (l: Awaited<ReturnType<typeof leftBehind>>) => boolean = (l) =>
    l.containers.length + l.runsc.length + l.forgotten.length === 0,
) {
  return (await pollUntil(() => leftBehind(prefix), clean, timeoutMs, 250)).value;
}
