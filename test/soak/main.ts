/**
 * `npm run soak`: SOAK_JOBS mixed jobs (10,000 by default) through the real stack; prints the report
 * and writes it to docs/reliability.md (SOAK_OUTPUT, or "-" for none). Exits 1 when a target is missed.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describeMachine } from '../bench/machine.js';
import { FLAT_MB, rssGrowth, runSoak, type SoakReport } from './soak.js';

const jobs = Number(process.env.SOAK_JOBS ?? 10_000);
const output = process.env.SOAK_OUTPUT ?? fileURLToPath(new URL('../../docs/reliability.md', import.meta.url));

function render(report: SoakReport, machine: string): string {
  const growth = rssGrowth(report);
  const statuses = [...new Set([...Object.keys(report.want), ...Object.keys(report.got)])].sort();
  const targets = [
    ['no wrong verdict', report.wrong.length === 0, `${report.wrong.length} wrong`],
    ['no job lost', report.lost === 0, `${report.lost} lost`],
    [
      'nothing left behind',
      report.left.containers.length + report.left.runsc.length + report.left.forgotten.length === 0,
      `${report.left.containers.length} containers, ${report.left.runsc.length} runsc processes, ${report.left.forgotten.length} forgotten containerd sandboxes`,
    ],
    [
      `RSS flat (at most ${FLAT_MB} MB of growth from after warm-up to the end)`,
      growth.api <= FLAT_MB && growth.worker <= FLAT_MB,
      `API ${growth.api >= 0 ? '+' : ''}${growth.api} MB, worker ${growth.worker >= 0 ? '+' : ''}${growth.worker} MB`,
    ],
    ['no error log lines', report.errorLines.length === 0, `${report.errorLines.length} lines`],
  ] as const;
  return [
    '# Reliability: the soak',
    '',
    `\`npm run soak\` pushed ${report.jobs.toLocaleString('en')} mixed jobs through the real stack (an API and a worker, each its`,
    "own process, on the machine's Redis, Docker engine and runsc) and checked every verdict against what its",
    'program must get. Source: `test/soak/`. The test suite runs the same soak with 500 jobs',
    '(`test/sandbox/soak.test.ts`).',
    '',
    `Machine: ${machine}. Worker: ${Object.entries(report.config)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}.`,
    '',
    '## Targets',
    '',
    '| target | met | measured |',
    '| --- | --- | --- |',
    ...targets.map(([name, met, measured]) => `| ${name} | ${met ? 'yes' : '**no**'} | ${measured} |`),
    '',
    '## Throughput',
    '',
    `${report.jobs.toLocaleString('en')} jobs in ${report.seconds.toFixed(0)} s: **${report.jobsPerSecond.toFixed(2)} jobs/s** with two sandboxes at a time.`,
    '',
    '## Verdicts',
    '',
    '| status | came back | the programs must get |',
    '| --- | --- | --- |',
    ...statuses.map((s) => `| ${s} | ${report.got[s] ?? 0} | ${report.want[s] ?? 0} |`),
    '',
    ...(report.wrong.length
      ? ['Wrong verdicts (first 20):', '', ...report.wrong.slice(0, 20).map((w) => `- ${w}`), '']
      : []),
    '## Memory and Redis along the way',
    '',
    '| sample | jobs done | API RSS (MB) | worker RSS (MB) | Redis keys of the deployment | Redis used memory (MB) |',
    '| --- | --- | --- | --- | --- | --- |',
    ...report.samples.map(
      (s) => `| ${s.at} | ${s.done} | ${s.apiRssMb} | ${s.workerRssMb} | ${s.redisKeys} | ${s.redisUsedMb} |`,
    ),
    '',
    "Redis keys grow with the results kept (SBX_RESULT_TTL_SECONDS) and BullMQ's own retention (completed",
    'jobs kept for an hour, at most 10,000): both are bounded, so the count levels off in a longer run.',
    '',
    '## Left behind, and error log lines',
    '',
    `Containers of the deployment: ${report.left.containers.length}. runsc processes without a running container: ${report.left.runsc.length}. Sandboxes containerd held that Docker had forgotten: ${report.left.forgotten.length}.`,
    '',
    `Error and fatal log lines from the API and the worker: ${report.errorLines.length}.`,
    ...(report.errorLines.length ? ['', '```', ...report.errorLines.slice(0, 10), '```'] : []),
    '',
  ].join('\n');
}

const machine = await describeMachine('sbx-python', 'python3', 'runsc');
const report = await runSoak({
  jobs,
  progress: (s) => console.error(`[soak] ${s.at}: ${s.done} done, API ${s.apiRssMb} MB, worker ${s.workerRssMb} MB`),
});
const text = render(
  report,
  `${machine.cpuModel}, ${machine.cores} cores, ${machine.ramGiB} GiB, ${machine.runtime}, ${machine.date}`,
);
console.log(text);
if (output !== '-') writeFileSync(output, text);
const growth = rssGrowth(report);
const met =
  !report.wrong.length &&
  !report.lost &&
  !report.left.containers.length &&
  !report.left.runsc.length &&
  !report.left.forgotten.length &&
  growth.api <= FLAT_MB &&
  growth.worker <= FLAT_MB;
process.exit(met ? 0 : 1);
