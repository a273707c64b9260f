/**
 * The short soak: 500 mixed jobs through the real stack (an API and a worker in their own
 * processes). `npm run soak` runs 10,000 and writes docs/reliability.md; this holds every commit to
 * the same targets, memory aside (500 jobs are mostly warm-up; the long soak judges flatness).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSoak } from '../soak/soak.js';
import { NOTHING_LEFT } from '../support/burst.js';

test('500 mixed jobs: every verdict right, none lost, nothing left behind, no error logged', async () => {
  const report = await runSoak({ jobs: 500 });
  assert.deepEqual(report.wrong, [], 'every job has the verdict its program earns');
  assert.equal(report.lost, 0, 'no job lost');
  assert.deepEqual(report.got, report.want, 'the verdict counts are what the programs must get');
  assert.deepEqual(report.left, NOTHING_LEFT, 'nothing left behind');
  assert.deepEqual(report.errorLines, [], 'no error or fatal log line');
  console.log(
    `# ${report.jobsPerSecond.toFixed(2)} jobs/s; RSS (MB) ${report.samples.map((s) => `${s.at}: API ${s.apiRssMb}, worker ${s.workerRssMb}`).join('; ')}`,
  );
});
