import {
  type JobData,
  NOTHING_RAN,
  type OutputEncoding,
  outputMatches,
  type RunStatus,
  type TestResult,
  type TestVerdict,
} from '@sbx/shared';
import { classify } from './classify.js';
import type { TestSlice } from './sandbox/harness-stream.js';
import type { RawRun } from './sandbox/types.js';

/** The kept bytes as text (what answers are judged on) and as the job asked to see them. */
const decode = (b: Buffer, cap: number, encoding: OutputEncoding = 'utf8') => {
  const kept = b.subarray(0, cap);
  return { text: kept.toString('utf8'), shown: kept.toString(encoding), truncated: b.length > cap };
};

type TestsJob = JobData & { tests: NonNullable<JobData['tests']> };

/** Judges every test: its run status from the same classifier as a plain run, then the answer. */
export function judgeTests(
  data: TestsJob,
  raw: RawRun,
  outputCap: number,
): { tests: TestResult[]; status: RunStatus; passed: number } {
  const slices = raw.tests;
  const results: TestResult[] = [];
  let stopped = false;
  // The output cap is the job's: every test's bytes count together (the harness's never do).
  let before = 0;
  for (const [index, test] of data.tests.entries()) {
    const slice = slices[index];
    if (!slice || stopped) {
      results.push(
        skipped(index, test.limits, stopped ? 'an earlier test failed' : 'the run stopped before this test'),
      );
      continue;
    }
    // Only the last slice can be the one the container died in; earlier ones finished cleanly.
    const result = judgeTest(data, index, test, slice, slice.report === null ? raw : null, outputCap, before);
    before += slice.stdout.length + slice.stderr.length;
    results.push(result);
    if (data.stop_on_first_failure && result.verdict !== 'accepted') stopped = true;
  }
  const firstBad = results.find((r) => r.status !== null && r.status !== 'ok');
  return {
    tests: results,
    status: firstBad?.status ?? 'ok',
    passed: results.filter((r) => r.verdict === 'accepted').length,
  };
}

/**
 * Whether a test that has just finished (its report is in) passed, judged as `judgeTests` will judge
 * it: the worker asks this while the run goes on, to stop at the first failure, wrong answers included.
 */
export function finishedTestPassed(data: TestsJob, index: number, slice: TestSlice, outputCap: number): boolean {
  const test = data.tests[index];
  return test !== undefined && judgeTest(data, index, test, slice, null, outputCap).verdict === 'accepted';
}

/** `inProgress`: the run the container stopped in, for the slice that has no report. */
function judgeTest(
  data: TestsJob,
  index: number,
  test: TestsJob['tests'][number],
  slice: TestSlice,
  inProgress: RawRun | null,
  outputCap: number,
  /** The program's bytes in the tests before this one. */
  before = 0,
): TestResult {
  const { limits } = test;
  const verdict = classify({
    run: inProgress ?? {
      killedBy: null,
      oomKilled: slice.oomKilled === true,
      exitCode: slice.report?.exit_code ?? null,
    },
    report: slice.report,
    outputBytes: inProgress?.outputOverflow
      ? Number.POSITIVE_INFINITY
      : before + slice.stdout.length + slice.stderr.length,
    outputCap,
    limits,
  });
  const out = decode(slice.stdout, outputCap, data.output_encoding);
  const err = decode(slice.stderr, outputCap, data.output_encoding);
  let testVerdict: TestVerdict = verdict.status === 'ok' ? 'accepted' : verdict.status;
  if (verdict.status === 'ok' && !outputMatches(out.text, test.expected_output, compareOptions(data)))
    testVerdict = 'wrong_answer';
  return {
    index,
    status: verdict.status,
    verdict: testVerdict,
    stdout: out.shown,
    stderr: err.shown,
    exit_code: slice.report?.exit_code ?? inProgress?.exitCode ?? null,
    signal: verdict.signal,
    time: slice.report?.time ?? 0,
    cpu_time: slice.report?.cpu_time ?? null,
    memory_kb: slice.report?.max_rss_kb ?? null,
    stdout_truncated: out.truncated,
    stderr_truncated: err.truncated,
    ...(verdict.message ? { message: verdict.message } : {}),
    limits,
  };
}

function compareOptions(data: JobData) {
  return { comparator: data.comparator ?? 'trailing_whitespace', floatTolerance: data.float_tolerance ?? 1e-6 };
}

function skipped(index: number, limits: TestResult['limits'], why: string): TestResult {
  return {
    index,
    status: null,
    verdict: 'skipped',
    ...NOTHING_RAN,
    message: `not judged: ${why}`,
    limits,
  };
}
