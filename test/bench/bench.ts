/**
 * `pnpm bench`: end-to-end latency of POST /run and burst throughput, beside a cold
 * `docker run --rm --runtime=runsc` of the same program measured in the same run.
 * A script, not a test: it prints figures, it asserts nothing.
 */
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { startStack } from '../support/stack.js';

const CODE = 'print(2 + 2)';
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 30);
const BURST = Number(process.env.BENCH_BURST ?? 40);
const BASELINE_RUNS = Number(process.env.BENCH_BASELINE ?? 20);
const IMAGE = process.env.SBX_SANDBOX_IMAGE ?? 'sbx-python:latest';

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? Number.NaN;
};

function dockerRun(): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(
      'docker',
      ['run', '--rm', '-i', '--runtime=runsc', '--network=none', IMAGE, 'python3', '-I', '-S', '-c', CODE],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.on('exit', (code) =>
      code === 0 && out === '4\n'
        ? resolve((performance.now() - started) / 1000)
        : reject(new Error(`docker run failed: ${code} ${out}`)),
    );
  });
}

async function pool<T>(items: number, parallel: number, fn: () => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < items) {
        next += 1;
        results.push(await fn());
      }
    }),
  );
  return results;
}

const POOL_SIZE = process.env.BENCH_POOL_SIZE ?? '0';
const stack = await startStack({
  env: { SBX_WORKER_CONCURRENCY: '2', SBX_LOG_LEVEL: 'error', SBX_POOL_SIZE: POOL_SIZE },
});
await stack.app.listen({ host: '127.0.0.1', port: 0 });
const base = `http://127.0.0.1:${(stack.app.server.address() as AddressInfo).port}`;
const post = (path: string) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code: CODE }),
  });

try {
  for (let i = 0; i < 2; i++) await post('/run'); // warm the page cache and connections
  const latencies: number[] = [];
  const inner: number[] = [];
  for (let i = 0; i < SEQUENTIAL; i++) {
    const t = performance.now();
    const res = await post('/run');
    const body = (await res.json()) as { stdout: string; wall_time: number };
    if (body.stdout !== '4\n') throw new Error(`unexpected result ${JSON.stringify(body)}`);
    latencies.push((performance.now() - t) / 1000);
    inner.push(body.wall_time);
  }

  const burstStart = performance.now();
  const ids = await Promise.all(
    Array.from({ length: BURST }, async () => ((await (await post('/jobs')).json()) as { id: string }).id),
  );
  const pending = new Set(ids);
  while (pending.size > 0) {
    await Promise.all(
      [...pending].map(async (id) => {
        const view = (await (await fetch(`${base}/jobs/${id}`)).json()) as { state: string };
        if (view.state === 'completed') pending.delete(id);
      }),
    );
    if (pending.size) await new Promise((r) => setTimeout(r, 50));
  }
  const burstSeconds = (performance.now() - burstStart) / 1000;

  const cold: number[] = [];
  for (let i = 0; i < BASELINE_RUNS; i++) cold.push(await dockerRun());
  const coldBurstStart = performance.now();
  await pool(BURST, 2, dockerRun);
  const coldBurstSeconds = (performance.now() - coldBurstStart) / 1000;

  const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;
  const rows: [string, string, string, string][] = [
    ['', 'sbx POST /run', 'cold docker run (runsc)', 'ratio sbx/cold'],
    ['p50 latency', ms(pct(latencies, 50)), ms(pct(cold, 50)), (pct(latencies, 50) / pct(cold, 50)).toFixed(2)],
    ['p95 latency', ms(pct(latencies, 95)), ms(pct(cold, 95)), (pct(latencies, 95) / pct(cold, 95)).toFixed(2)],
    [
      `burst of ${BURST} (2 at a time)`,
      `${(BURST / burstSeconds).toFixed(2)} jobs/s`,
      `${(BURST / coldBurstSeconds).toFixed(2)} jobs/s`,
      (BURST / burstSeconds / (BURST / coldBurstSeconds)).toFixed(2),
    ],
  ];
  const width = rows[0]?.map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0))) ?? [];
  console.log(`\nmachine: ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}`);
  console.log(
    `runs: ${SEQUENTIAL} sequential POST /run, ${BASELINE_RUNS} sequential cold docker runs, burst ${BURST}; warm pool ${POOL_SIZE} (BENCH_POOL_SIZE)`,
  );
  for (const row of rows) console.log(row.map((c, i) => c.padEnd(width[i] ?? 0)).join('  |  '));
  console.log(`sandbox wall time inside the job (p50): ${ms(pct(inner, 50))}`);
} finally {
  await stack.stop();
}
