import type { RunResult, SandboxRuntime, WorkerHealth } from '@sbx/shared';
import { executeJob } from './execute-job.js';
import { checkRuntime, describeRuntime, type RuntimeFacts } from './sandbox/runtime-probe.js';
import type { SandboxRunner } from './sandbox/types.js';

/** Above this, RLIMIT_NPROC no longer counts as a fork-bomb cap. */
export const SAFE_NPROC_CEILING = 1024;

interface Canary {
  name: string;
  code: string;
  /** Null when the sandbox behaved; otherwise what went wrong. */
  judge: (r: RunResult) => string | null;
}

const printedOk = (r: RunResult) => (r.status === 'ok' && r.stdout === 'ok\n' ? null : describe(r));
/** The seccomp filter's kill: the refused call never returned, so nothing after it printed. */
const killedByFloor = (r: RunResult) =>
  r.status === 'security_violation' && r.stdout === '' && /seccomp/.test(r.message ?? '') ? null : describe(r);
const describe = (r: RunResult) => `${r.status}: ${(r.stdout + r.stderr).trim().slice(-200) || r.message || ''}`;

/** Real attacks on a real sandbox, with the policy layer off: only the container floor answers them. */
export function canaries(memoryMb: number): Canary[] {
  return [
    {
      // The seccomp floor (syscall_floor.py) in this runtime: a socket of any network family ends
      // the program, whatever the policy layer (off here) would have said.
      name: 'network_blocked',
      code: 'import socket\nsocket.create_connection(("127.0.0.1", 9), timeout=1)\nprint("connected")',
      judge: killedByFloor,
    },
    {
      name: 'process_blocked',
      code: 'import os\nif os.fork() == 0:\n    os._exit(0)\nprint("forked")',
      judge: killedByFloor,
    },
    {
      name: 'root_read_only',
      code: [
        'mounts = {f[1]: f[3].split(",") for f in (l.split() for l in open("/proc/mounts"))}',
        'try:',
        '    open("/etc/sbx-canary", "w"); wrote = True',
        'except OSError:',
        '    wrote = False',
        'print("ok" if "ro" in mounts["/"] and not wrote else f"root={mounts[\'/\']} wrote={wrote}")',
      ].join('\n'),
      judge: printedOk,
    },
    {
      name: 'fork_capped',
      code: [
        'import os, resource, threading, time',
        'soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)',
        'n = 0',
        'try:',
        '    while n < 4096:',
        '        threading.Thread(target=time.sleep, args=(2,), daemon=True).start(); n += 1',
        'except RuntimeError:',
        '    pass',
        // n <= hard: the program's main thread was forked by the supervisor as root and counts
        // under root's uid (gVisor does not move it at setuid), so all of RLIMIT_NPROC is threads.
        `ok = os.getuid() != 0 and 0 < hard <= ${SAFE_NPROC_CEILING} and soft == hard and n <= hard`,
        'print("ok" if ok else f"uid={os.getuid()} nproc={soft}/{hard} threads={n}")',
      ].join('\n'),
      judge: printedOk,
    },
    {
      name: 'memory_capped',
      code: `x = bytearray(${memoryMb * 2} * 2**20)\nx[-1] = 1\nprint("allocated")`,
      // Capped means the over-limit allocation never completed. Under host load the sandbox sometimes
      // reports the child SIGKILLed rather than an OOM verdict: still capped, so still a pass.
      judge: (r) =>
        !r.stdout.includes('allocated') && (r.status === 'memory_limit' || r.signal === 9) ? null : describe(r),
    },
  ];
}

export type SelfCheckResult = WorkerHealth;

/** The runtime the sandboxes will run on, and what is wrong with it; `runtime` is null when it could not be inspected. */
export interface RuntimeCheck {
  runtime: SandboxRuntime | null;
  /** Where the binary is, for the log line. */
  path: string | null;
  failures: WorkerHealth['failures'];
}

/** Inspects the runtime (Docker's registration, the binary's release and flags) and checks it. Never throws. */
export async function checkSandboxRuntime(
  inspect: () => Promise<RuntimeFacts>,
  minRelease: string,
): Promise<RuntimeCheck> {
  try {
    const facts = await inspect();
    return { runtime: describeRuntime(facts), path: facts.path, failures: checkRuntime(facts, { minRelease }) };
  } catch (err) {
    return { runtime: null, path: null, failures: [{ check: 'runtime_registered', detail: (err as Error).message }] };
  }
}

/**
 * The runtime check, then every canary in its own sandbox, two at a time. Canaries are skipped when
 * the runtime could not even be inspected: each would fail the same way.
 */
export async function runSelfCheck(
  runner: SandboxRunner,
  opts: { memoryMb: number; outputCap: number; runtime: RuntimeCheck },
): Promise<SelfCheckResult> {
  const list = opts.runtime.runtime ? canaries(opts.memoryMb) : [];
  const failures: SelfCheckResult['failures'] = [...opts.runtime.failures];
  const limits = { time_ms: 2000, memory_mb: opts.memoryMb };
  const runOne = async (canary: Canary) => {
    try {
      const result = await executeJob(
        `selfcheck-${canary.name}-${Date.now()}`,
        {
          code: canary.code,
          stdin: '',
          limits,
          policy: 'standard',
          submitted_at: new Date().toISOString(),
          request_id: 'self-check',
        },
        { runner, outputCap: opts.outputCap, policyLayer: 'off' },
      );
      const problem = canary.judge(result);
      if (problem) failures.push({ check: canary.name, detail: problem });
    } catch (err) {
      failures.push({ check: canary.name, detail: `sandbox failed: ${(err as Error).message}` });
    }
  };
  for (let i = 0; i < list.length; i += 2) await Promise.all(list.slice(i, i + 2).map(runOne));
  return { ok: failures.length === 0, failures, checked_at: new Date().toISOString(), runtime: opts.runtime.runtime };
}
