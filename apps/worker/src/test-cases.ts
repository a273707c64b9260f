import {
  type JobData,
  NOTHING_RAN,
  outputMatches,
  type RunStatus,
  type TestResult,
  type TestVerdict,
} from '@sbx/shared';
import { classify } from './classify.js';
import { extractReport, type HarnessReport } from './sandbox/harness-report.js';
import type { RawRun } from './sandbox/types.js';

/** Per-test slices of the container's streams, cut at the supervisor's nonce-marked boundaries. */
export interface TestSlice {
  stdout: Buffer;
  stderr: Buffer;
  report: HarnessReport | null;
}

/**
 * Splits stdout at `\n\x1esbx-end:<nonce>:<i>\n` and stderr at each test's report line. Tests that
 * finished come back with their report; the one running when the container stopped (if any) comes
 * last with `report: null` and whatever output it produced.
 */
export function splitTestOutputs(stdout: Buffer, stderr: Buffer, nonce: string, count: number): TestSlice[] {
  const slices: TestSlice[] = [];
  let outAt = 0;
  let errAt = 0;
  for (let i = 0; i < count; i++) {
    const endMarker = Buffer.from(`\n\x1esbx-end:${nonce}:${i}\n`);
    const outEnd = stdout.indexOf(endMarker, outAt);
    const reportMarker = Buffer.from(`\n\x1esbx-report:${nonce}:`);
    const errEnd = stderr.indexOf(reportMarker, errAt);
    const lineEnd = errEnd < 0 ? -1 : stderr.indexOf(0x0a, errEnd + reportMarker.length);
    if (outEnd < 0 || lineEnd < 0) {
      // The test in progress when the run stopped: everything left is its output.
      if (outAt < stdout.length || errAt < stderr.length || slices.length < count)
        slices.push({ stdout: stdout.subarray(outAt), stderr: stderr.subarray(errAt), report: null });
      break;
    }
    const { stderr: own, report } = extractReport(stderr.subarray(errAt, lineEnd + 1), nonce);
    slices.push({ stdout: stdout.subarray(outAt, outEnd), stderr: own, report });
    outAt = outEnd + endMarker.length;
    errAt = lineEnd + 1;
  }
  return slices;
}

const decode = (b: Buffer, cap: number) => ({ text: b.subarray(0, cap).toString('utf8'), truncated: b.length > cap });

/** Judges every test: its run status from the same classifier as a plain run, then the answer. */
export function judgeTests(
  data: JobData & { tests: NonNullable<JobData['tests']> },
  raw: RawRun,
  outputCap: number,
): { tests: TestResult[]; status: RunStatus; passed: number } {
  const slices = splitTestOutputs(raw.stdout, raw.stderr, raw.nonce, data.tests.length);
  const results: TestResult[] = [];
  let stopped = false;
  for (const [index, test] of data.tests.entries()) {
    const slice = slices[index];
    if (!slice || stopped) {
      results.push(
        skipped(index, test.limits, stopped ? 'an earlier test failed' : 'the run stopped before this test'),
      );
      continue;
    }
    // Only the last slice can be the one the container died in; earlier ones finished cleanly.
    const inProgress = slice.report === null;
    const verdict = classify({
      run: inProgress ? raw : { killedBy: null, oomKilled: false, exitCode: slice.report?.exit_code ?? null },
      report: slice.report,
      outputBytes:
        inProgress && raw.outputOverflow ? Number.POSITIVE_INFINITY : slice.stdout.length + slice.stderr.length,
      outputCap,
      limits: test.limits,
    });
    const out = decode(slice.stdout, outputCap);
    const err = decode(slice.stderr, outputCap);
    let testVerdict: TestVerdict = verdict.status === 'ok' ? 'accepted' : verdict.status;
    if (verdict.status === 'ok' && !outputMatches(out.text, test.expected_output, compareOptions(data)))
      testVerdict = 'wrong_answer';
    results.push({
      index,
      status: verdict.status,
      verdict: testVerdict,
      stdout: out.text,
      stderr: err.text,
      exit_code: slice.report?.exit_code ?? (inProgress ? raw.exitCode : null),
      signal: verdict.signal,
      time: slice.report?.time ?? 0,
      cpu_time: slice.report?.cpu_time ?? null,
      memory_kb: slice.report?.max_rss_kb ?? null,
      stdout_truncated: out.truncated,
      stderr_truncated: err.truncated,
      ...(verdict.message ? { message: verdict.message } : {}),
      limits: test.limits,
    });
    if (data.stop_on_first_failure && testVerdict !== 'accepted') stopped = true;
  }
  const firstBad = results.find((r) => r.status !== null && r.status !== 'ok');
  return {
    tests: results,
    status: firstBad?.status ?? 'ok',
    passed: results.filter((r) => r.verdict === 'accepted').length,
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
