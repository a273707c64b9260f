/**
 * The syscall-heavy rows: programs that spend their time in many small write(2) calls, the cost a
 * harness between the program and the host (a syscall filter, a relay of its output) adds to. Each is
 * timed through POST /run on a warm sandbox, beside the same program in a cold `docker run` of the
 * same image and in the bare host interpreter.
 *
 * Sizes: each program takes 0.2-0.4 s of a quiet machine's sandbox, several times its fixed cost and
 * well inside the default time limit (2 s; a warm sandbox runs with the pool's time limit whatever
 * the job asks, so a job cannot ask for more) and the output cap (1 MiB), with room for a loaded
 * machine or a slower harness: a program that times out measures nothing.
 */
import type { JobRequest, RunResult } from '@sbx/shared';
import { timeCommand } from './commands.js';

export interface SyscallProgram {
  /** Row label in the report. */
  label: string;
  policy: 'strict' | 'standard';
  code: string;
  /** Its whole stdout, the same in the sandbox, a cold docker run and the host. */
  expected: string;
}

const STDOUT_WRITES = 5_000;
const FILE_WRITES = 10_000;

export const SYSCALL_PROGRAMS: readonly SyscallProgram[] = [
  {
    // Through the program's stdout: every byte the harness relays and counts.
    label: `${STDOUT_WRITES.toLocaleString('en')} one-byte writes to stdout, flushed each (strict)`,
    policy: 'strict',
    code: `for _ in range(${STDOUT_WRITES}):\n    print("x", end="", flush=True)`,
    expected: 'x'.repeat(STDOUT_WRITES),
  },
  {
    // To a file under /tmp: the syscalls alone, with no output for the harness to relay.
    label: `${FILE_WRITES.toLocaleString('en')} one-byte \`os.write\`s to a /tmp file (standard)`,
    policy: 'standard',
    code: [
      'import os',
      'path = "/tmp/sbx-bench-%d" % os.getpid()',
      'fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)',
      `for _ in range(${FILE_WRITES}):`,
      '    os.write(fd, b"x")',
      'print(os.fstat(fd).st_size)',
      'os.close(fd)',
      'os.unlink(path)',
    ].join('\n'),
    expected: `${FILE_WRITES}\n`,
  },
];

export const syscallJob = (p: SyscallProgram): JobRequest => ({ code: p.code, policy: p.policy });

export function assertSyscallResult(p: SyscallProgram, result: RunResult): void {
  if (result.status !== 'ok' || result.stdout !== p.expected)
    throw new Error(
      `${p.label}: expected ok and ${p.expected.length} bytes of stdout, got ${JSON.stringify({ ...result, stdout: result.stdout.slice(0, 80) })}`,
    );
}

/**
 * A cold `docker run` of the program, with a /tmp tmpfs as the worker's sandboxes have (the image's
 * root is theirs read-only): the same image, runtime and interpreter flags, no harness.
 */
export const coldSyscallCommand = (image: string, runtime: string, p: SyscallProgram): [string, string[]] => [
  'docker',
  [
    'run',
    '--rm',
    '-i',
    `--runtime=${runtime}`,
    '--network=none',
    '--tmpfs',
    '/tmp:rw,noexec,nosuid,nodev,size=16m,mode=1777',
    image,
    'python3',
    '-I',
    '-S',
    '-c',
    p.code,
  ],
];

export const bareSyscallCommand = (python: string, p: SyscallProgram): [string, string[]] => [
  python,
  ['-I', '-S', '-c', p.code],
];

/** Wall seconds of one run of the command; it must print exactly what the program prints. */
export const timeSyscallCommand = (p: SyscallProgram, command: [string, string[]]) =>
  timeCommand(command, (out) => out === p.expected);
