/**
 * `npm run bench:gvisor`: the gVisor settings compared in one run on this machine. The runtime as
 * ensure-host registers it, beside variants that change one flag each: directfs on (the sentry opens
 * host files itself) and the ptrace platform (the one bookworm's old runsc used). Each variant is
 * registered with Docker for the run as `sbx-bench-<variant>` (register-runsc.mjs, dockerd reloaded
 * with SIGHUP, which leaves running containers alone) and removed afterwards.
 *
 * For each setting: a cold `docker run` (wall time and the machine's CPU per start), in-sandbox costs
 * of a syscall and a fork+exit, and through the real service (a worker on that runtime) the run stage
 * of POST /run (job handed to a started sandbox until its done marker) and test cases per second.
 * Cold runs are interleaved between settings, and the service passes run forward then backward, so
 * a drift in the machine's speed falls on every setting alike.
 *
 * Sizes: BENCH_GVISOR_COLD (12 cold runs per setting), BENCH_GVISOR_RUNS (20 POST /run per pass),
 * BENCH_GVISOR_CASE_JOBS (10 jobs × 20 tests per pass). Writes docs/gvisor-settings.md (BENCH_OUTPUT,
 * or `-` to only print).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { RunResult } from '@sbx/shared';
import { describeRuntime, inspectRuntime } from '@sbx/worker';
import Docker from 'dockerode';
import { registerRuntime, removeRuntime } from '../support/docker-runtimes.js';
import { startStack } from '../support/stack.js';
import { CODE, coldDockerCommand, doublingJob, envCount, timeCommand } from './commands.js';
import { describeMachine, loadAverage, machineCpuSeconds } from './machine.js';
import { table } from './markdown.js';
import { cpuNanoseconds } from './pool.js';
import { SbxHttp } from './sbx-http.js';
import { percentile } from './stats.js';

const SETTINGS = {
  cold: envCount('BENCH_GVISOR_COLD', 12),
  runs: envCount('BENCH_GVISOR_RUNS', 20),
  caseJobs: envCount('BENCH_GVISOR_CASE_JOBS', 10),
  testsPerJob: 20,
  output: process.env.BENCH_OUTPUT ?? fileURLToPath(new URL('../../docs/gvisor-settings.md', import.meta.url)),
};
const IMAGE = process.env.SBX_SANDBOX_IMAGE ?? 'sbx-python:latest';

const started = performance.now();
const log = (message: string) =>
  process.stderr.write(
    `[bench:gvisor ${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${message}\n`,
  );

interface Setting {
  label: string;
  runtime: string;
  /** flag=value changes over the registered runtime; none for the runtime itself. */
  changes: string[];
}

const SETTINGS_COMPARED: Setting[] = [
  { label: 'as registered', runtime: 'runsc', changes: [] },
  { label: 'directfs on', runtime: 'sbx-bench-directfs', changes: ['directfs=true'] },
  { label: 'ptrace platform', runtime: 'sbx-bench-ptrace', changes: ['platform=ptrace'] },
];

const docker = new Docker();

/** In-sandbox costs: a cheap syscall (getppid) and a Python fork+exit, from inside one cold sandbox. */
const MICRO = [
  'import os, time',
  't = time.perf_counter()',
  'for _ in range(20000): os.getppid()',
  'sys_us = (time.perf_counter() - t) / 20000 * 1e6',
  't = time.perf_counter()',
  'for _ in range(40):',
  '    pid = os.fork()',
  '    if pid == 0: os._exit(0)',
  '    os.waitpid(pid, 0)',
  'fork_ms = (time.perf_counter() - t) / 40 * 1e3',
  'print(f"{sys_us:.2f} {fork_ms:.2f}")',
].join('\n');

function micro(runtime: string): { syscallUs: number; forkMs: number } {
  const [cmd, args] = coldDockerCommand(IMAGE, runtime, MICRO);
  const [sys, fork] = execFileSync(cmd, args, { encoding: 'utf8' }).trim().split(' ').map(Number);
  return { syscallUs: sys ?? Number.NaN, forkMs: fork ?? Number.NaN };
}

/**
 * CPU of one started sandbox with nothing to do (`sleep`), uncapped and at the default weight: what the
 * platform itself costs an idle sandbox. Percent of one core, from the container's cpuacct over 5 s.
 */
async function idleCpuPercent(runtime: string): Promise<number> {
  const id = execFileSync('docker', ['run', '-d', `--runtime=${runtime}`, '--network=none', IMAGE, 'sleep', '60'], {
    encoding: 'utf8',
  }).trim();
  try {
    await new Promise((r) => setTimeout(r, 2000));
    const before = cpuNanoseconds(id);
    await new Promise((r) => setTimeout(r, 5000));
    return ((cpuNanoseconds(id) - before) / 5e9) * 100;
  } finally {
    execFileSync('docker', ['rm', '-f', id], { stdio: 'ignore' });
  }
}

interface Samples {
  idleCpu: number[];
  cold: number[];
  coldCpu: number[];
  syscallUs: number[];
  forkMs: number[];
  runStage: number[];
  request: number[];
  casesPerSecond: number[];
  described: string;
}

/** A worker on this runtime: sequential POST /run (their run stage), then jobs of test cases. */
async function servicePass(setting: Setting, samples: Samples): Promise<void> {
  const stack = await startStack({
    env: {
      SBX_SANDBOX_RUNTIME: setting.runtime,
      // The variants differ from the registered flags on purpose: the runtime check would refuse them.
      SBX_SELF_CHECK: 'off',
      SBX_POOL_MIN: '2',
      SBX_POOL_MAX: '2',
      SBX_WORKER_CONCURRENCY: '2',
      SBX_LOG_LEVEL: 'error',
      SBX_RATE_PER_MINUTE: '1000000',
    },
  });
  try {
    await stack.app.listen({ host: '127.0.0.1', port: 0 });
    const sbx = new SbxHttp(`http://127.0.0.1:${(stack.app.server.address() as AddressInfo).port}`);
    for (let i = 0; i < SETTINGS.runs; i++) {
      const { seconds, result } = await sbx.run({ code: CODE });
      if (result.status !== 'ok' || !result.stages) throw new Error(`POST /run: ${JSON.stringify(result)}`);
      samples.request.push(seconds);
      samples.runStage.push(result.stages.run);
    }
    const submitted = Date.now();
    const ids = await sbx.submit(Array.from({ length: SETTINGS.caseJobs }, () => doublingJob(SETTINGS.testsPerJob)));
    const results: RunResult[] = await sbx.results(ids);
    for (const r of results)
      if (r.summary?.passed !== SETTINGS.testsPerJob) throw new Error(`test cases: ${JSON.stringify(r.summary ?? r)}`);
    const seconds = (Math.max(...results.map((r) => Date.parse(r.finished_at))) - submitted) / 1000;
    samples.casesPerSecond.push((SETTINGS.caseJobs * SETTINGS.testsPerJob) / seconds);
  } finally {
    await stack.stop();
  }
}

const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;
const p50 = (xs: number[]) => percentile(xs, 50);

function render(machine: Awaited<ReturnType<typeof describeMachine>>, all: Map<Setting, Samples>): string {
  const rows = [...all].map(([setting, s]) => [
    `${setting.label}${setting.changes.length ? ` (\`--${setting.changes.join(' --')}\`)` : ''}`,
    s.described,
    ms(p50(s.cold)),
    p50(s.coldCpu).toFixed(2),
    `${p50(s.syscallUs).toFixed(1)} µs`,
    `${p50(s.forkMs).toFixed(1)} ms`,
    `${p50(s.idleCpu).toFixed(2)} %`,
    ms(p50(s.runStage)),
    ms(p50(s.request)),
    p50(s.casesPerSecond).toFixed(0),
  ]);
  return [
    '# gVisor settings, measured side by side',
    '',
    `Written by \`npm run bench:gvisor\` (test/bench/gvisor-settings.ts) on ${machine.date}; every figure below is from this one run. ` +
      'Each variant changes one flag of the registered runtime and is registered with Docker for the run only.',
    '',
    table(
      ['machine', ''],
      [
        ['CPU', `${machine.cpuModel}, ${machine.cores} cores`],
        ['kernel', machine.kernel],
        ['Docker server', machine.docker],
        ['registered runtime', machine.runtime],
        ['sandbox image', machine.image],
        ['load average at start / end', `${machine.loadAtStart} / ${loadAverage()}`],
      ],
    ),
    '',
    table(
      [
        'setting',
        'effective flags',
        `cold \`docker run\` p50 (n=${SETTINGS.cold})`,
        'CPU-s per cold run',
        'syscall',
        'fork+exit',
        'idle sandbox CPU, % of a core',
        `warm run stage p50 (n=${SETTINGS.runs * 2})`,
        'POST /run p50, pool of 2',
        'test cases/s',
      ],
      rows,
    ),
    '',
    '- cold `docker run`: `python3 -I -S -c "print(2 + 2)"` in a fresh container, interleaved between settings; ' +
      "CPU-s is the whole machine's busy time over each run.",
    '- syscall and fork+exit: measured inside one cold sandbox per round (getppid 20,000 times, 40 forks of a small Python), median of the rounds.',
    '- idle sandbox CPU: a started `sleep` container at the default weight and no idle cap, its cgroup CPU over 5 s (median of 2): what the platform itself costs while nothing runs. The warm pool caps its idle sandboxes to 1 % (IDLE_CPU_QUOTA_US).',
    '- warm run stage: the job handed to a started sandbox until its done marker (`stages.run`): supervisor, fork, the program, reporting.',
    `- test cases/s: ${SETTINGS.caseJobs} jobs × ${SETTINGS.testsPerJob} tests, concurrency 2, each test a fresh forked process; median of two passes.`,
    '',
  ].join('\n');
}

const variants = SETTINGS_COMPARED.filter((s) => s.changes.length);
const registered = await inspectRuntime(docker, 'runsc');
try {
  for (const v of variants) await registerRuntime(registered.path, v.runtime, v.changes);
  const all = new Map<Setting, Samples>();
  for (const setting of SETTINGS_COMPARED) {
    const r = describeRuntime(await inspectRuntime(docker, setting.runtime));
    all.set(setting, {
      idleCpu: [],
      cold: [],
      coldCpu: [],
      syscallUs: [],
      forkMs: [],
      runStage: [],
      request: [],
      casesPerSecond: [],
      described: `${r.platform}, directfs ${r.directfs ? 'on' : 'off'}`,
    });
  }
  const machine = await describeMachine(IMAGE, '/usr/bin/python3', 'runsc');
  log(`cold runs: ${SETTINGS.cold} per setting, interleaved`);
  for (let i = 0; i < SETTINGS.cold; i++)
    for (const [setting, s] of all) {
      const cpu = machineCpuSeconds();
      s.cold.push(await timeCommand(coldDockerCommand(IMAGE, setting.runtime)));
      s.coldCpu.push(machineCpuSeconds() - cpu);
      if (i % 4 === 0) {
        const m = micro(setting.runtime);
        s.syscallUs.push(m.syscallUs);
        s.forkMs.push(m.forkMs);
      }
    }
  log('idle sandboxes: 5 s each, twice per setting');
  for (let i = 0; i < 2; i++) for (const [setting, s] of all) s.idleCpu.push(await idleCpuPercent(setting.runtime));
  const order = [...SETTINGS_COMPARED, ...[...SETTINGS_COMPARED].reverse()];
  for (const setting of order) {
    log(`service pass: ${setting.label}`);
    const samples = all.get(setting);
    if (samples) await servicePass(setting, samples);
  }
  const report = render(machine, all);
  process.stdout.write(report);
  if (SETTINGS.output !== '-') {
    writeFileSync(SETTINGS.output, report);
    log(`written to ${SETTINGS.output}`);
  }
} finally {
  for (const v of variants) await removeRuntime(v.runtime).catch(() => {});
}
