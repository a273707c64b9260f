import { readdirSync, readFileSync } from 'node:fs';
import { loadConfig } from '@sbx/shared';
import {
  CheckpointBuilder,
  type CheckpointSource,
  DockerSandboxRunner,
  type SandboxSpec,
  sandboxSettingsFromConfig,
} from '@sbx/worker';
import Docker from 'dockerode';
import { machineCpuSeconds } from './machine.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tick = 100;
function perProc(): Map<string, number> {
  const m = new Map<string, number>();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const s = readFileSync(`/proc/${p}/stat`, 'utf8');
      const comm = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      m.set(`${p}:${comm}`, (Number(f[11]) + Number(f[12])) / tick);
    } catch {}
  }
  return m;
}
const rt = process.env.X_RT ?? 'runsc';
const mode = process.env.X_MODE ?? 'restore';
const config = loadConfig({ ...process.env, SBX_SANDBOX_RUNTIME: rt, SBX_CHECKPOINT_DIR: `/var/lib/sbx/cpexp-${rt}` });
const runConfig = loadConfig({ ...process.env, SBX_SANDBOX_RUNTIME: process.env.X_RUN_RT ?? rt });
const docker = new Docker({ socketPath: config.dockerSocket });
const settings = sandboxSettingsFromConfig(config);
const labels = { workerId: `x-${process.pid}`, prefix: `sbxx` };
const builder = new CheckpointBuilder({ docker, settings, dir: config.checkpointDir, labels });
const support = await builder.engineSupport();
if ('cold' in support) throw new Error(support.cold);
const source: CheckpointSource = { for: () => null, dockerRoot: support.dockerRoot, restored() {}, failed() {} };
const runner = new DockerSandboxRunner({
  docker,
  settings: sandboxSettingsFromConfig(runConfig),
  ...labels,
  keepOutputBytes: 1 << 20,
  wallGraceMs: 1000,
  checkpoints: source,
});
const limits: SandboxSpec = {
  time_ms: config.defaultTimeMs,
  memory_mb: config.defaultMemoryMb,
  environment: 'python-data',
};
const { checkpoint } = await builder.checkpointFor(limits, support.dockerRoot);
const c00 = machineCpuSeconds();
await sleep(2000);
console.log('idle 2s', (machineCpuSeconds() - c00).toFixed(2));
for (let i = 0; i < Number(process.env.X_N ?? 3); i++) {
  const before = perProc();
  const c0 = machineCpuSeconds();
  const w0 = performance.now();
  const sb =
    mode === 'restore'
      ? await runner.restore(limits, { jobId: `x-${i}` }, checkpoint)
      : await runner.acquire(limits, { jobId: `x-${i}` });
  const wall = performance.now() - w0;
  const total = machineCpuSeconds() - c0;
  const after = perProc();
  const by = new Map<string, number>();
  let sum = 0;
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d <= 0) continue;
    const c = k.split(':')[1] ?? k;
    by.set(c, (by.get(c) ?? 0) + d);
    sum += d;
  }
  console.log(
    mode,
    'total',
    total.toFixed(2),
    'wall',
    wall.toFixed(0),
    'gone',
    (total - sum).toFixed(2),
    [...by]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k}=${v.toFixed(2)}`)
      .join(' '),
  );
  await sb.dispose();
  await sleep(1000);
}
