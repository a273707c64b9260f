/**
 * The chart row: a 1,000-point matplotlib line chart returned as a PNG artifact by POST /run from a
 * warm python-data sandbox, beside a cold `docker run` of the same image drawing the same chart with
 * its imports, as a user without the service would.
 */
import type { RunResult } from '@sbx/shared';
import type { WorkerService } from '@sbx/worker';
import { timeCommand } from './commands.js';
import { readPool } from './pool.js';
import type { SbxHttp } from './sbx-http.js';

type Registry = WorkerService['metrics']['registry'];

/** What the user sends: the figure is left open, and comes back as figure-1.png. */
export const CHART_CODE = [
  'import matplotlib.pyplot as plt',
  'import numpy as np',
  'x = np.linspace(0, 10, 1000)',
  'fig, ax = plt.subplots(figsize=(6, 4))',
  'ax.plot(x, np.sin(x) * np.exp(-x / 5), label="damped")',
  'ax.set_title("1,000 points")',
  'ax.set_xlabel("t")',
  'ax.legend()',
].join('\n');

/** The same chart from a cold interpreter: its own imports and the PNG encoding included. */
const COLD_SCRIPT = [
  'import os, sys, io',
  // What the image's preload sets up before importing, minus its warm-up figure.
  'os.environ.update(MPLBACKEND="Agg", MPLCONFIGDIR="/opt/sbx/mplconfig", OPENBLAS_NUM_THREADS="1")',
  'sys.path.append("/usr/lib/python3/dist-packages")',
  CHART_CODE,
  'buf = io.BytesIO()',
  'fig.savefig(buf, format="png")',
  'print("png", len(buf.getvalue()))',
].join('\n');

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The result must carry exactly one PNG: a broken chart must not produce a figure. */
export function assertChart(result: RunResult): number {
  const png = result.artifacts?.find((a) => a.name === 'figure-1.png');
  const bytes = png?.data ? Buffer.from(png.data, 'base64') : null;
  if (result.status !== 'ok' || !bytes || !bytes.subarray(0, 8).equals(PNG_SIGNATURE))
    throw new Error(`expected ok with figure-1.png, got ${JSON.stringify(result).slice(0, 600)}`);
  return bytes.length;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `runs` sequential chart requests, each sent once the python-data pool has a sandbox ready: the
 * figure is a warm sandbox's, which is what the pool is for (its refill is a cold start, and a
 * request arriving during it is a pool miss, counted apart).
 */
export async function measureWarmCharts(sbx: SbxHttp, registry: Registry | undefined, runs: number) {
  const seconds: number[] = [];
  let warm = 0;
  let pngBytes = 0;
  for (let i = 0; i < runs; i++) {
    const until = performance.now() + 60_000;
    while (((await readPool(registry, 'python-data'))?.idle ?? 0) < 1 && performance.now() < until) await sleep(100);
    const t = await sbx.run({ code: CHART_CODE, environment: 'python-data' });
    pngBytes = assertChart(t.result);
    if (t.result.stages?.warm) warm += 1;
    seconds.push(t.seconds);
  }
  return { seconds, warm, pngBytes };
}

export const coldChartCommand = (image: string, runtime: string): [string, string[]] => [
  'docker',
  // Root inside, as the supervisor that preloads is: matplotlib only uses a config dir it may write.
  [
    'run',
    '--rm',
    '-i',
    `--runtime=${runtime}`,
    '--network=none',
    '--user',
    '0:0',
    image,
    'python3',
    '-I',
    '-S',
    '-c',
    COLD_SCRIPT,
  ],
];

/** Runs the cold chart once; its wall seconds. It must print the PNG's size. */
export const timeColdChart = (command: [string, string[]]) => timeCommand(command, (out) => /^png \d+\n$/.test(out));
