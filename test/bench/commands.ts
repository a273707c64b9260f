/** Timing programs the bench compares the service with: a cold sandbox and a bare host interpreter. */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type { JobRequest } from '@sbx/shared';

const execFileAsync = promisify(execFile);

/** The program every latency figure runs, in the sandbox and in both baselines. */
export const CODE = 'print(2 + 2)';
export const EXPECTED = '4\n';

/** `docker run` of the same image and runtime the worker uses, started cold for each run. */
export const coldDockerCommand = (image: string, runtime: string, code = CODE): [string, string[]] => [
  'docker',
  ['run', '--rm', '-i', `--runtime=${runtime}`, '--network=none', image, 'python3', '-I', '-S', '-c', code],
];

/** Jobs of `perJob` test cases each: the program doubles its input and every answer must be accepted. */
export function doublingJob(perJob: number): JobRequest {
  return {
    code: 'print(int(input()) * 2)',
    tests: Array.from({ length: perJob }, (_, i) => ({ stdin: `${i}\n`, expected_output: `${i * 2}\n` })),
  };
}

/** A BENCH_* size: a positive whole number, or the default when unset. */
export function envCount(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[1-9]\d*$/.test(raw)) throw new Error(`${name} must be a positive whole number, got "${raw}"`);
  return Number(raw);
}

export const bareHostCommand = (python: string): [string, string[]] => [python, ['-I', '-S', '-c', CODE]];

/** Runs a command to its exit and returns its wall seconds; a wrong output or exit code is a broken bench. */
export function timeCommand(
  [cmd, args]: [string, string[]],
  printedWhatItShould: (stdout: string) => boolean = (out) => out === EXPECTED,
): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0 && printedWhatItShould(out)) resolve((performance.now() - started) / 1000);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}, stdout ${JSON.stringify(out)}: ${err}`));
    });
  });
}

export async function sequentially(runs: number, once: () => Promise<number>): Promise<number[]> {
  const seconds: number[] = [];
  for (let i = 0; i < runs; i++) seconds.push(await once());
  return seconds;
}

export interface Rate {
  count: number;
  seconds: number;
  perSecond: number;
}

/** `count` calls, at most `parallel` at a time: a rate, comparable with a worker of that concurrency. */
export async function rateAt(count: number, parallel: number, once: () => Promise<unknown>): Promise<Rate> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        next += 1;
        await once();
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { count, seconds, perSecond: count / seconds };
}

/** A command's trimmed stdout, or `unknown`: a missing tool must not stop the figures being written. */
export async function commandOutput(cmd: string, args: string[]): Promise<string> {
  try {
    return (await execFileAsync(cmd, args)).stdout.trim();
  } catch {
    return 'unknown';
  }
}
