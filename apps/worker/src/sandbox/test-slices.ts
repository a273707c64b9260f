import { extractReport, type HarnessReport } from './harness-report.js';

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
