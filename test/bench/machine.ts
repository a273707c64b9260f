/** What the figures were measured on: they mean little without it. */
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { describeRuntime, inspectRuntime } from '@sbx/worker';
import Docker from 'dockerode';
import { commandOutput } from './commands.js';

export interface Machine {
  date: string;
  cpuModel: string;
  cores: number;
  ramGiB: number;
  kernel: string;
  docker: string;
  /** The runtime the sandboxes ran on, as the worker's self-check finds it: release, platform, directfs. */
  runtime: string;
  node: string;
  image: string;
  python: string;
  /** 1, 5 and 15 minute load averages when the bench started: anything else running skews the figures. */
  loadAtStart: string;
}

/** CPU time every process of the machine has used so far, in seconds (/proc/stat counts in USER_HZ, 100 on Linux). */
export function machineCpuSeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  // user nice system idle iowait irq softirq steal: idle and iowait are not work.
  const busy = fields.slice(0, 8).reduce((sum, x, i) => (i === 3 || i === 4 ? sum : sum + x), 0);
  return busy / 100;
}

export const loadAverage = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

function cpuModel(): string {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  return /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
}

function ramGiB(): number {
  const kb = Number(/^MemTotal:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? Number.NaN);
  return kb / 2 ** 20;
}

/** The configured tag and the content tag (harness hash) it points to, with the image id. */
async function imageTags(image: string): Promise<string> {
  const inspected = await commandOutput('docker', [
    'image',
    'inspect',
    '--format',
    '{{json .RepoTags}} {{.Id}}',
    image,
  ]);
  const match = /^(\[.*\]) sha256:([0-9a-f]{12})/.exec(inspected);
  if (!match?.[1]) return `${image} (not found)`;
  const others = (JSON.parse(match[1]) as string[]).filter((t) => t !== image);
  return `${image}${others.length ? ` = ${others.join(', ')}` : ''} (id ${match[2]})`;
}

/** `runsc 20240729 (runsc version 0.0~20240729.0), platform systrap, directfs off`, or why it is unknown. */
export async function describeSandboxRuntime(name: string): Promise<string> {
  try {
    const facts = await inspectRuntime(new Docker(), name);
    const r = describeRuntime(facts);
    if (!facts.gvisor) return `${name} (not gVisor)`;
    const directfs = r.directfs === null ? 'no directfs' : `directfs ${r.directfs ? 'on' : 'off'}`;
    return `${name}: release ${r.release ?? '?'} (${facts.version}), platform ${r.platform ?? '?'}, ${directfs}`;
  } catch (err) {
    return `${name}: unknown (${(err as Error).message})`;
  }
}

export async function describeMachine(image: string, python: string, runtimeName: string): Promise<Machine> {
  const [docker, runtime, imageLine, pythonVersion] = await Promise.all([
    commandOutput('docker', ['version', '--format', '{{.Server.Version}}']),
    describeSandboxRuntime(runtimeName),
    imageTags(image),
    commandOutput(python, ['-c', 'import sys; print(sys.version.split()[0])']),
  ]);
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpuModel: cpuModel(),
    cores: cpus().length,
    ramGiB: ramGiB(),
    kernel: release(),
    docker,
    runtime,
    node: process.version,
    image: imageLine,
    python: `${python} ${pythonVersion}`,
    loadAtStart: loadAverage(),
  };
}
