/** The bench's figures as one Markdown document: printed, and written to docs/benchmarks.md. */

import { IDLE_CPU_PERIOD_US, IDLE_CPU_QUOTA_US } from '@sbx/worker';
import type { Rate } from './commands.js';
import { type LiveResults, liveSection, liveTargetRows } from './live-report.js';
import type { Machine } from './machine.js';
import { mark, ms, ratio, table } from './markdown.js';
import type { IdleCost, RestOutcome } from './pool.js';
import type { RestoreResults } from './restore.js';
import type { Spread } from './stats.js';

/** p50 of each worker stage over the sequential POST /run, in seconds. */
export interface StageBreakdown {
  queued: number;
  sandbox: number;
  run: number;
  judge: number;
  /** Client wall minus the four stages above: storing the result, the API hearing of it, HTTP. */
  storeRespond: number;
  wall: number;
  warmHits: number;
  n: number;
}

/** One run of sequential POST /run, and the pool it started from. */
export interface Sequential {
  label: string;
  latency: Spread;
  stages: StageBreakdown | null;
  start: RestOutcome;
}

/** One-at-a-time POST /run of one program, nothing else of ours running: p50s of the wall, two stages and the program. */
export interface Probe {
  latency: Spread;
  /** p50 of `stages.sandbox`: acquiring the sandbox (a cold start's container and harness start). */
  sandbox: number;
  /** p50 of `stages.run`: the job handed to the sandbox until its run is over. */
  run: number;
  /** p50 of the result's `time`: the program's own wall time, as the harness measured it. */
  own: number;
  warmHits: number;
}

/** A syscall-heavy program through a warm sandbox, a cold docker run of the same image, and bare python. */
export interface SyscallRow {
  label: string;
  sbx: Probe;
  cold: Spread;
  bare: Spread;
}

/** Every row group but the machine's is optional: BENCH_ONLY runs some of them. */
export interface Results {
  machine: Machine;
  service: { concurrency: number; pool: string };
  /** The sandbox runtime's name, for the baselines' labels. */
  runtime: string;
  /** The row groups BENCH_ONLY picked, null when all ran. */
  only: readonly string[] | null;
  /** Groups that failed: they have no figures below. */
  failures: readonly { group: string; message: string }[];
  /** The same sequential run twice: on a quiet service (pool at its floor), then on a busy one. */
  sequential: Sequential[];
  /** cpuPerJob: the whole machine's CPU seconds per burst job, polling included (sandbox start, run, removal). */
  burst?: { rate: Rate; warmHits: number; acquisitions: Map<string, number> | null; cpuPerJob: number };
  cases?: { jobs: number; perJob: number; rate: Rate; start: RestOutcome };
  /** cpuPerRun: the whole machine's CPU seconds per sequential cold run (docker, containerd, runsc, python). */
  cold?: { runtime: string; latency: Spread; rate: Rate; parallel: number; cpuPerRun: number };
  bare?: Spread;
  baselineRest?: RestOutcome;
  /** POST /run with a sandbox started for the job: asked with memory_mb `coldMemoryMb`, which no pooled sandbox has. */
  coldStart?: Probe;
  coldMemoryMb: number;
  /** POST /run on a warm sandbox, the pool refilled before each. */
  warmRun?: Probe;
  syscalls?: SyscallRow[];
  /** The idle pool's cost: null when there is no cgroup v1 hierarchy to read. */
  idle?: { rest: RestOutcome; cost: IdleCost | null };
  /** The chart row: warm python-data POST /run beside a cold docker run of the same chart, and the idle data sandbox. */
  chart?: {
    warm: Spread;
    warmHits: number;
    runs: number;
    pngBytes: number;
    cold: Spread;
    idle: IdleCost | null;
  };
  /** Issue 21's live-output rows: first byte beside a plain POST /run, idle and under a burst; 100k lines. */
  live?: LiveResults;
  /** Issue 22's rows: python-data sandboxes restored from a checkpoint beside cold starts. */
  restore?: RestoreResults;
  elapsedSeconds: number;
  /** 1, 5 and 15 minute load averages as the bench finished: high ones mean something else competed. */
  loadAtEnd: string;
}

/** Targets of issue 5. */
const TARGET = {
  latencyVsCold: 0.15,
  throughputVsCold: 0.9,
  casesPerSecond: 20,
  idlePoolMiB: 200,
  idlePoolCpuPercentOfCore: 2,
  /** Issue 11: the chart from a warm python-data sandbox. */
  chartVsCold: 0.15,
  /** Issue 22: python-data sandboxes restored from a checkpoint. */
  restoreCpuSeconds: 1,
  restoreBurstChartsPerSecond: 1.2,
  restoreSequentialP50Seconds: 0.5,
};

const perSecond = (x: number, unit: string) => `${x.toFixed(2)} ${unit}/s`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const percent = (x: number) => `${(x * 100).toFixed(2)} %`;

/** The targets whose figures (and baselines) this run measured. */
function targetRows(r: Results): string[][] {
  const rows: string[][] = [];
  const cold = r.cold;
  if (cold) {
    const latencyLimit = TARGET.latencyVsCold * cold.latency.p50;
    rows.push(
      ...r.sequential.map((seq) => [
        `p50 POST /run ≤ ${TARGET.latencyVsCold} × cold docker p50 (${seq.label})`,
        `${ms(seq.latency.p50)} (limit ${ms(latencyLimit)})`,
        mark(seq.latency.p50 <= latencyLimit),
      ]),
    );
    if (r.burst) {
      const throughputLimit = TARGET.throughputVsCold * cold.rate.perSecond;
      rows.push([
        `job throughput ≥ ${TARGET.throughputVsCold} × cold docker rate`,
        `${perSecond(r.burst.rate.perSecond, 'jobs')} (limit ${perSecond(throughputLimit, 'jobs')})`,
        mark(r.burst.rate.perSecond >= throughputLimit),
      ]);
    }
  }
  if (r.cases)
    rows.push([
      `test cases ≥ ${TARGET.casesPerSecond} cases/s`,
      perSecond(r.cases.rate.perSecond, 'cases'),
      mark(r.cases.rate.perSecond >= TARGET.casesPerSecond),
    ]);
  if (r.chart) {
    const chartLimit = TARGET.chartVsCold * r.chart.cold.p50;
    rows.push([
      `p50 chart POST /run (python-data, PNG artifact) ≤ ${TARGET.chartVsCold} × cold docker chart p50`,
      `${ms(r.chart.warm.p50)} (limit ${ms(chartLimit)})`,
      mark(r.chart.warm.p50 <= chartLimit),
    ]);
  }
  if (r.live) rows.push(...liveTargetRows(r.live));
  if (r.restore) rows.push(...restoreTargetRows(r.restore));
  if (!r.idle) return rows;
  // No containers means no pool to judge, not a pool that costs nothing.
  const measured = r.idle.cost;
  const idle = measured?.containers ? measured : null;
  const pool = measured ? `idle pool (${measured.containers} containers)` : 'idle pool';
  rows.push(
    [
      `${pool} < ${TARGET.idlePoolMiB} MiB`,
      idle ? mib(idle.memoryBytes) : 'n/a',
      idle ? mark(idle.memoryBytes < TARGET.idlePoolMiB * 2 ** 20) : '? n/a',
    ],
    [
      `${pool} < ${TARGET.idlePoolCpuPercentOfCore} % CPU (of one core)`,
      idle ? percent(idle.cpuCores) : 'n/a',
      idle ? mark(idle.cpuCores * 100 < TARGET.idlePoolCpuPercentOfCore) : '? n/a',
    ],
  );
  return rows;
}

function restoreTargetRows(x: RestoreResults): string[][] {
  return [
    [
      `python-data sandbox start ≤ ${TARGET.restoreCpuSeconds} CPU-s (restored)`,
      `${x.restored.cpuSeconds.toFixed(2)} CPU-s (cold ${x.cold.cpuSeconds.toFixed(2)})`,
      mark(x.restored.cpuSeconds <= TARGET.restoreCpuSeconds),
    ],
    [
      `${x.burst} charts submitted at once ≥ ${TARGET.restoreBurstChartsPerSecond} charts/s`,
      `${perSecond(x.on.burstPerSecond, 'charts')} (cold ${perSecond(x.off.burstPerSecond, 'charts')})`,
      mark(x.on.burstPerSecond >= TARGET.restoreBurstChartsPerSecond),
    ],
    [
      `charts 0.3 s apart, p50 ≤ ${ms(TARGET.restoreSequentialP50Seconds)}`,
      `${ms(x.on.sequential.p50)} (cold ${ms(x.off.sequential.p50)})`,
      mark(x.on.sequential.p50 <= TARGET.restoreSequentialP50Seconds),
    ],
  ];
}

function restoreSection(x: RestoreResults): string {
  const start = (label: string, c: RestoreResults['cold']) => [
    label,
    `${c.cpuSeconds.toFixed(2)} CPU-s`,
    ms(c.wall.p50),
    ms(c.wall.p95),
  ];
  const load = (label: string, l: RestoreResults['on']) => [
    label,
    perSecond(l.burstPerSecond, 'charts'),
    `${l.burstCpuPerChart.toFixed(2)} CPU-s`,
    ms(l.sequential.p50),
    ms(l.sequential.p95),
    `${l.warmHits} of ${x.sequentialRuns}`,
  ];
  return [
    table(
      [`sandbox, start to "waiting for its job" (${x.starts} each)`, 'machine CPU', 'wall p50', 'wall p95'],
      [
        start('python-data, cold start (image, preload)', x.cold),
        start('python-data, restored from the checkpoint (pages uncompressed)', x.restored),
        start('python-data, restored from a compressed checkpoint', x.restoredCompressed),
        start('python, cold start', x.python.cold),
        start('python, restored from its checkpoint (pages uncompressed)', x.python.restored),
        start('python, restored from a compressed checkpoint', x.python.restoredCompressed),
      ],
    ),
    table(
      [
        'chart load, 2 cores',
        `${x.burst} charts at once`,
        'machine CPU per chart',
        `${x.sequentialRuns} charts 0.3 s apart, p50`,
        'p95',
        'warm',
      ],
      [
        load('SBX_CHECKPOINT_PYTHON_DATA=off (cold starts)', x.off),
        load('SBX_CHECKPOINT_PYTHON_DATA=on (restores)', x.on),
      ],
    ),
    "Machine CPU is every process of the machine (Docker, containerd, runsc, the worker), read from /proc/stat around each start; the starts run one at a time, each sandbox removed before the next (its removal not counted). The uncompressed checkpoint is taken in `SBX_CHECKPOINT_RUNTIME` (what the worker uses), the compressed one in `SBX_SANDBOX_RUNTIME` (what Docker's checkpoint API does by default); both are restored through links. Each mode runs on a stack of its own with the python-data pool at its floor (1) and the ceiling its default memory budget holds (10), the charts 0.3 s apart first, then the burst; the checkpoint is taken and verified before either is measured, as a running worker has it.",
  ].join('\n\n');
}

function chartSection(r: Results): string {
  const c = r.chart;
  if (!c) return '';
  const rows = [
    [
      `POST /run, warm python-data sandbox (${c.warmHits} of ${c.runs} warm)`,
      ms(c.warm.p50),
      ms(c.warm.p95),
      ratio(c.warm.p50 / c.cold.p50),
    ],
    [`cold \`docker run --runtime=${r.runtime}\` of the same image and chart`, ms(c.cold.p50), ms(c.cold.p95), '1.00×'],
  ];
  const idle = c.idle?.containers ? c.idle : null;
  const idleLine = idle
    ? `An idle python-data sandbox (${idle.containers} in the pool, measured over ${idle.seconds.toFixed(1)} s) holds ${mib(idle.memoryBytes / idle.containers)} and uses ${percent(idle.cpuCores / idle.containers)} of one core: the preloaded numpy, pandas and matplotlib are most of it (a python one holds about 28 MiB).`
    : 'The idle python-data sandbox was not measured (no cgroup v1 hierarchy, or no such sandbox idle).';
  return [
    table(['1,000-point line chart, PNG back', 'p50', 'p95', 'vs cold p50'], rows),
    `The request's figure is left open by the program and comes back as \`figure-1.png\` (${(c.pngBytes / 1024).toFixed(1)} KiB) in \`artifacts\`. Each request was sent once the python-data pool had a sandbox ready, so the figure is a warm sandbox's: the supervisor imported the libraries and drew a figure before the job came. The cold run imports them itself, draws, encodes the PNG and prints its size. ${idleLine}`,
  ].join('\n\n');
}

function machineSection(r: Results): string {
  const m = r.machine;
  return table(
    ['machine', ''],
    [
      ['date', m.date],
      ['CPU', `${m.cpuModel}, ${m.cores} cores`],
      ['RAM', `${m.ramGiB.toFixed(1)} GiB`],
      ['kernel', m.kernel],
      ['Docker server', m.docker],
      ['sandbox runtime', m.runtime],
      ['node', m.node],
      ['sandbox image', m.image],
      ['host python (bare baseline)', m.python],
      ['service', `1 worker, concurrency ${r.service.concurrency}, ${r.service.pool}`],
      ['load average (1, 5, 15 min) at start / end', `${m.loadAtStart} / ${r.loadAtEnd}`],
      ['bench run time', `${r.elapsedSeconds.toFixed(0)} s`],
    ],
  );
}

function latencySection(r: Results): string {
  const row = (name: string, s: Spread) => [name, String(s.n), ms(s.p50), ms(s.p95), ms(s.p99)];
  const ratios = (name: string, sbx: Spread, base: Spread) => [
    name,
    '',
    ratio(sbx.p50 / base.p50),
    ratio(sbx.p95 / base.p95),
    ratio(sbx.p99 / base.p99),
  ];
  const { cold, bare } = r;
  return table(
    ['`print(2 + 2)`, one at a time', 'runs', 'p50', 'p95', 'p99'],
    [
      ...r.sequential.map((seq) => row(`sbx \`POST /run\`, ${seq.label}`, seq.latency)),
      ...(cold ? [row(`cold \`docker run --rm --runtime=${cold.runtime}\``, cold.latency)] : []),
      ...(bare ? [row('bare host `python3 -I -S`', bare)] : []),
      ...r.sequential.flatMap((seq) => [
        ...(cold ? [ratios(`ratio sbx (${seq.label}) / cold docker`, seq.latency, cold.latency)] : []),
        ...(bare ? [ratios(`ratio sbx (${seq.label}) / bare python`, seq.latency, bare)] : []),
      ]),
    ],
  );
}

function sequentialNote(r: Results): string {
  const starts = r.sequential.map((seq) => {
    const pool = seq.start.pool;
    return `${seq.label}: ${pool ? `${pool.idle} idle sandboxes at the start` : 'pool size unknown'}`;
  });
  const costs =
    r.cold && r.burst
      ? `: a cold \`docker run\` cost the machine ${r.cold.cpuPerRun.toFixed(2)} CPU-s (over the sequential cold runs), a job of the burst ${r.burst.cpuPerJob.toFixed(2)} CPU-s (its sandbox's start and run, the removals done by the end, the API and polling), so ${r.machine.cores} cores can replace at most about ${(r.machine.cores / r.burst.cpuPerJob).toFixed(1)} sandboxes a second, however the pool schedules them`
      : '';
  return `Each sbx run is ${r.sequential[0]?.latency.n ?? 0} requests one right after the other (${starts.join('; ')}). The first follows two warm-up requests on a quiet service; the second follows the burst, whose shortfalls raised the pool's target for a minute. Back-to-back requests outrun the pool's refills, so the stock at the start decides how many are warm${costs}.`;
}

function throughputSection(r: Results): string {
  const { burst, cases, cold } = r;
  const rows: string[][] = [];
  if (burst)
    rows.push([
      'sbx: burst of `print(2 + 2)` jobs (`POST /jobs/batch`)',
      `${burst.rate.count} jobs`,
      burst.rate.seconds.toFixed(2),
      perSecond(burst.rate.perSecond, 'jobs'),
    ]);
  if (cold)
    rows.push([
      `cold docker run, ${cold.parallel} at a time`,
      `${cold.rate.count} runs`,
      cold.rate.seconds.toFixed(2),
      perSecond(cold.rate.perSecond, 'runs'),
    ]);
  if (burst && cold) rows.push(['ratio sbx / cold docker', '', '', ratio(burst.rate.perSecond / cold.rate.perSecond)]);
  if (cases)
    rows.push([
      `sbx: ${cases.jobs} jobs × ${cases.perJob} test cases`,
      `${cases.rate.count} cases`,
      cases.rate.seconds.toFixed(2),
      perSecond(cases.rate.perSecond, 'cases'),
    ]);
  return table(['throughput', 'count', 'seconds', 'rate'], rows);
}

function throughputNote(r: Results): string {
  const notes = [
    "Jobs were all submitted at once and polled with `GET /jobs?ids=`; the time runs from the first submission to the last result's `finished_at`.",
  ];
  if (r.cold)
    notes.push(
      `The cold docker figure is a rate: ${r.cold.rate.count} \`docker run\`s, ${r.cold.parallel} at a time (as many as the worker's concurrency), divided by the time they took together.`,
    );
  if (r.cases)
    notes.push(
      `The test-case jobs started with ${r.cases.start.pool?.idle ?? 'an unknown number of'} idle sandboxes in the pool.`,
    );
  if (r.baselineRest)
    notes.push(
      r.baselineRest.settled
        ? `The baselines ran after the pool had settled at its floor (waited ${r.baselineRest.seconds.toFixed(0)} s), so its refills and trims did not share the CPU with them.`
        : `The pool had NOT settled before the baselines (waited ${r.baselineRest.seconds.toFixed(0)} s): its churn may have slowed them.`,
    );
  return notes.join(' ');
}

function acquisitionsLine(acquisitions: Map<string, number> | null): string {
  if (!acquisitions) return '';
  const parts = ['hit', 'wait', 'miss'].map((o) => `${acquisitions.get(o) ?? 0} ${o}`);
  return ` Pool acquisitions during the burst (\`sbx_pool_acquires_total\`): ${parts.join(', ')} (a "wait" joined a pool start already under way and is not counted warm).`;
}

function stagesSection(r: Results): string {
  const burst = r.burst;
  const burstHits = burst
    ? `Burst: ${burst.warmHits} of ${burst.rate.count} jobs warm (${percent(burst.warmHits / burst.rate.count)}).${acquisitionsLine(burst.acquisitions)}`
    : '';
  const runs = r.sequential.flatMap((seq) => (seq.stages ? [{ label: seq.label, s: seq.stages }] : []));
  if (runs.length === 0) return [`Results carry no \`stages\`: no breakdown.`, burstHits].filter(Boolean).join('\n\n');
  const row = (name: string, pick: (s: StageBreakdown) => number) => [name, ...runs.map(({ s }) => ms(pick(s)))];
  return [
    table(
      ['sequential `POST /run`, stage p50', ...runs.map(({ label }) => label)],
      [
        row('queued (submission to a worker taking it)', (s) => s.queued),
        row('sandbox (acquire a started sandbox)', (s) => s.sandbox),
        row('run (job handed to the sandbox to run over)', (s) => s.run),
        row('judge (classify, judge tests)', (s) => s.judge),
        row('store + respond (client wall − the four above)', (s) => s.storeRespond),
        row('client wall', (s) => s.wall),
        ['warm-pool hits (`stages.warm`)', ...runs.map(({ s }) => `${s.warmHits} of ${s.n}`)],
      ],
    ),
    'Each p50 is taken on its own, so the stage p50s need not add up to the wall p50. A job that joined a pool start under way, or started cold, waits in its sandbox stage for the container to be created and the harness to start.',
    burstHits,
  ]
    .filter(Boolean)
    .join('\n\n');
}

function idleSection(r: Results): string {
  if (!r.idle) return '';
  const idle = r.idle.cost;
  const rest = r.idle.rest;
  const waited = `${rest.settled ? 'The pool sat at its floor' : 'The pool did NOT settle at its floor'} (${
    rest.pool ? `${rest.pool.idle} idle, ${rest.pool.starting} starting, target ${rest.pool.target}` : 'no pool gauge'
  }) after ${rest.seconds.toFixed(0)} s of waiting.`;
  if (!idle) return `${waited} No cgroup v1 Docker hierarchy on this host: idle cost not measured.`;
  return [
    table(
      ['idle pool', 'containers', 'memory (mean)', 'per container', 'CPU, % of one core', 'CPU, % of machine'],
      [
        [
          `${idle.seconds.toFixed(1)} s window`,
          String(idle.containers),
          mib(idle.memoryBytes),
          idle.containers ? mib(idle.memoryBytes / idle.containers) : 'n/a',
          percent(idle.cpuCores),
          percent(idle.cpuCores / r.machine.cores),
        ],
      ],
    ),
    '',
    `${waited} Memory is the sum of the containers' cgroup \`memory.usage_in_bytes\` (page cache included), sampled each second; CPU is the \`cpuacct.usage\` delta over the window. Idle pooled sandboxes are held to ${IDLE_CPU_QUOTA_US / 1000} ms of CPU per ${IDLE_CPU_PERIOD_US / 1000} ms: gVisor's systrap platform wakes every 400 µs even with nothing to run (uncapped, an idle sandbox costs a few percent of a core: \`npm run bench:gvisor\`).${
      idle.changed ? ' **The set of pool containers changed during the window.**' : ''
    }`,
  ].join('\n');
}

/** The cold start and warm run rows: `print(2 + 2)` one request at a time, beside the same program's baselines. */
function startupSection(r: Results): string {
  const rows: string[][] = [];
  const base = r.cold?.latency;
  const vs = (s: Spread, b: Spread | undefined) => (b ? ratio(s.p50 / b.p50) : 'n/a');
  const sbx = (name: string, p: Probe) => [
    name,
    String(p.latency.n),
    ms(p.latency.p50),
    ms(p.latency.p95),
    ms(p.sandbox),
    ms(p.run),
    vs(p.latency, base),
    vs(p.latency, r.bare),
  ];
  if (r.coldStart)
    rows.push(
      sbx(
        `sbx \`POST /run\`, cold start (a sandbox started for each; ${r.coldStart.latency.n - r.coldStart.warmHits} of ${r.coldStart.latency.n} cold)`,
        r.coldStart,
      ),
    );
  if (r.warmRun)
    rows.push(
      sbx(
        `sbx \`POST /run\`, warm run (the pool refilled before each; ${r.warmRun.warmHits} of ${r.warmRun.latency.n} warm)`,
        r.warmRun,
      ),
    );
  if (r.cold)
    rows.push([
      `cold \`docker run --rm --runtime=${r.cold.runtime}\` (baseline)`,
      String(r.cold.latency.n),
      ms(r.cold.latency.p50),
      ms(r.cold.latency.p95),
      '',
      '',
      '1.00×',
      vs(r.cold.latency, r.bare),
    ]);
  if (r.bare)
    rows.push([
      'bare host `python3 -I -S` (baseline)',
      String(r.bare.n),
      ms(r.bare.p50),
      ms(r.bare.p95),
      '',
      '',
      vs(r.bare, base),
      '1.00×',
    ]);
  return [
    table(
      [
        '`print(2 + 2)`, one request at a time',
        'runs',
        'p50',
        'p95',
        'sandbox stage p50',
        'run stage p50',
        'vs cold docker p50',
        'vs bare p50',
      ],
      rows,
    ),
    `Nothing else of ours ran during these requests. A cold start asks for \`memory_mb: ${r.coldMemoryMb}\`, which no pooled sandbox has, so the worker starts a sandbox for the job (its sandbox stage is the container's creation and the harness's start); half a second separates the requests, for the last sandbox's removal. A warm run is sent once the pool has refilled and sat still for 250 ms: its run stage is the harness taking the job, running it and reporting. The baselines are the latency rows' (a baseline that did not run shows n/a).`,
  ].join('\n\n');
}

/** The syscall-heavy programs: warm POST /run, a cold docker run and bare python of each. */
function syscallSection(r: Results): string {
  const rows: string[][] = [];
  const less = (s: Spread, base: Spread | undefined) => (base ? ms(s.p50 - base.p50) : 'n/a');
  for (const row of r.syscalls ?? []) {
    const p = row.sbx;
    rows.push(
      [
        `${row.label}: sbx \`POST /run\`, warm (${p.warmHits} of ${p.latency.n})`,
        String(p.latency.n),
        ms(p.latency.p50),
        ms(p.latency.p95),
        less(p.latency, r.warmRun?.latency),
        ms(p.own),
        ms(p.run),
      ],
      [
        `${row.label}: cold \`docker run --runtime=${r.runtime}\``,
        String(row.cold.n),
        ms(row.cold.p50),
        ms(row.cold.p95),
        less(row.cold, r.cold?.latency),
        '',
        '',
      ],
      [
        `${row.label}: bare host python`,
        String(row.bare.n),
        ms(row.bare.p50),
        ms(row.bare.p95),
        less(row.bare, r.bare),
        '',
        '',
      ],
      [
        'ratio sbx / cold docker, sbx / bare',
        '',
        `${ratio(p.latency.p50 / row.cold.p50)}, ${ratio(p.latency.p50 / row.bare.p50)}`,
        '',
        '',
        '',
        '',
      ],
    );
  }
  return [
    table(
      [
        'syscall-heavy program',
        'runs',
        'p50',
        'p95',
        'p50 less `print(2 + 2)`',
        "program's own time p50",
        'run stage p50',
      ],
      rows,
    ),
    "Each program makes its writes one syscall each. Through the sandbox every write to stdout is output the harness carries and counts; the /tmp file's writes are syscalls alone. Warm requests are sent once the pool has refilled, as the warm run above; the cold docker run has a /tmp tmpfs as the sandboxes do. \"Less `print(2 + 2)`\" takes the same path's `print(2 + 2)` p50 away (the warm run, the cold docker baseline, bare python: n/a when that row did not run), leaving the writes' own cost; the program's own time is the result's `time`. The sizes keep every run well inside the default 2 s time limit.",
  ].join('\n\n');
}

export function renderReport(r: Results): string {
  const targets = targetRows(r);
  const blocks = [
    '# Benchmarks',
    'Written by `npm run bench` (`test/bench/bench.ts`): every figure below comes from one run on the machine described at the end, the service and its baselines measured back to back. Rerun it rather than edit this file.',
    ...(r.only ? [`Only these row groups ran (BENCH_ONLY): ${r.only.join(', ')}.`] : []),
    ...(r.failures.length
      ? [
          `**Failed, so missing below:** ${r.failures.map((f) => `${f.group} (${f.message.slice(0, 300).replaceAll('\n', ' ')})`).join('; ')}.`,
        ]
      : []),
    ...(targets.length ? ['## Targets (issues 5, 11, 21 and 22)', table(['target', 'measured', ''], targets)] : []),
    ...(r.sequential.length || r.cold || r.bare
      ? [
          '## Latency',
          latencySection(r),
          `${r.sequential.length ? `${sequentialNote(r)} ` : ''}p99 is nearest-rank: with fewer than 100 runs it is the slowest run. The API, the worker and the client share one Node process (\`test/support/stack.ts\`); requests go over real HTTP on loopback.`,
        ]
      : []),
    ...(r.burst || r.cases || r.cold ? ['## Throughput', throughputSection(r), throughputNote(r)] : []),
    ...(r.sequential.length || r.burst ? ['## Where the time goes', stagesSection(r)] : []),
    ...(r.coldStart || r.warmRun ? ['## Cold start and warm run', startupSection(r)] : []),
    ...(r.syscalls ? ['## Syscall-heavy programs', syscallSection(r)] : []),
    ...(r.chart ? ['## Charts (python-data)', chartSection(r)] : []),
    ...(r.restore ? ['## python-data sandboxes restored from a checkpoint', restoreSection(r.restore)] : []),
    ...(r.live ? ['## Live output', liveSection(r.live)] : []),
    ...(r.idle ? ['## Idle pool cost', idleSection(r)] : []),
    '## Machine',
    machineSection(r),
  ];
  return `${blocks.join('\n\n')}\n`;
}
