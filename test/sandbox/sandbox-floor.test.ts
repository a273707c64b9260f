import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FILLS_THE_CGROUP } from '../support/memory-programs.js';
import { run, type Stack, startStack } from '../support/stack.js';

/**
 * The container floor with the Python policy layer switched off: every hardening flag of
 * buildContainerSpec, proved from inside a real runsc sandbox.
 */
describe('container floor (policy layer off)', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ env: { SBX_POLICY_LAYER: 'off' } });
  });
  after(async () => {
    await stack.stop();
  });

  const py = async (lines: string[], extra: Record<string, unknown> = {}) => {
    const r = await run(stack.app, { code: lines.join('\n'), policy: 'standard', ...extra });
    assert.equal(r.status, 'ok', `${r.status}: ${r.stderr}`);
    return r.stdout.trim().split('\n');
  };

  test('it really is gVisor: the sandbox kernel is not the host kernel', async () => {
    const [release] = await py(['import os', 'print(os.uname().release)']);
    const { release: hostRelease } = await import('node:os').then((os) => ({ release: os.release() }));
    assert.notEqual(release, hostRelease);
  });

  test('network: loopback only; every socket, connect and lookup is stopped by the seccomp floor', async () => {
    // The interfaces, read without a socket (the floor stops any): only loopback exists.
    const [names] = await py([
      'rows = open("/proc/net/dev").read().splitlines()[2:]',
      'print(sorted(r.split(":")[0].strip() for r in rows))',
    ]);
    assert.equal(names, "['lo']");
    for (const attempt of [
      'socket.create_connection(("127.0.0.1", 6379), timeout=1)',
      'socket.create_connection(("::1", 6379), timeout=1)',
      'socket.getaddrinfo("example.com", 80)',
      'socket.socket(socket.AF_PACKET, socket.SOCK_RAW)',
    ]) {
      const r = await run(stack.app, { code: `import socket\n${attempt}\nprint("reached")`, policy: 'standard' });
      assert.equal(r.status, 'security_violation', `${attempt}: ${r.status} ${r.stdout}`);
      assert.match(r.message, /seccomp filter stopped it/);
      assert.equal(r.stdout, '');
    }
  });

  test('read-only root, writable /tmp, and /tmp is noexec', async () => {
    const out = await py([
      'import os, errno',
      'mounts = {f[1]: f[3].split(",") for f in (l.split() for l in open("/proc/mounts"))}',
      'print("ro" in mounts["/"], "rw" in mounts["/tmp"], "noexec" in mounts["/tmp"])',
      'for p in ("/etc/x", "/usr/bin/x", "/opt/sbx/child.py"):',
      '    try: open(p, "w"); print("wrote", p)',
      '    except OSError as e: print(errno.errorcode[e.errno])',
    ]);
    assert.equal(out[0], 'True True True', 'root mounted read-only, /tmp writable and noexec');
    // Non-root meets EACCES before EROFS: either way nothing is written.
    for (const line of out.slice(1, 4)) assert.ok(['EROFS', 'EACCES'].includes(line), line);
    // Running what it wrote never gets as far as noexec: the floor stops the exec itself.
    const exec = await run(stack.app, {
      policy: 'standard',
      code: 'import os\nopen("/tmp/run.sh", "w").write("#!/bin/sh\\necho escaped\\n")\nos.chmod("/tmp/run.sh", 0o755)\nos.execv("/tmp/run.sh", ["run.sh"])',
    });
    assert.equal(exec.status, 'security_violation');
    assert.doesNotMatch(exec.stdout, /escaped/);
  });

  test('non-root, no capabilities, no new privileges, no host environment', async () => {
    const out = await py([
      'import os',
      'print(os.getresuid(), os.getresgid(), os.getgroups())',
      'try: os.setuid(0); print("became root")',
      'except PermissionError: print("setuid refused")',
      'status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)',
      'print(*(int(status[k].strip(), 16) for k in ("CapInh", "CapPrm", "CapEff")))',
      'print(int(status["CapBnd"].strip(), 16))',
      'print(sorted(os.environ))',
      'print(os.path.exists("/var/run/docker.sock"), os.path.exists("/run/docker.sock"))',
    ]);
    assert.equal(out[0], '(10001, 10001, 10001) (10001, 10001, 10001) []');
    assert.equal(out[1], 'setuid refused');
    assert.equal(out[2], '0 0 0', 'the program holds no capability (gVisor shows neither CapAmb nor NoNewPrivs)');
    // The supervisor's three stay in the bounding set, where nothing can raise them again: a
    // capability can only come back through an exec, and no-new-privileges rules that out.
    const [KILL, SETGID, SETUID] = [5, 6, 7];
    assert.equal(Number(out[3]), 2 ** KILL + 2 ** SETGID + 2 ** SETUID, 'bounding set: KILL, SETGID, SETUID');
    const env = JSON.parse((out[4] ?? '').replaceAll("'", '"')) as string[];
    assert.ok(
      env.every((k) => ['PATH', 'LANG', 'HOME', 'HOSTNAME', 'MALLOC_ARENA_MAX'].includes(k)),
      `unexpected env ${env}`,
    );
    assert.equal(out[5], 'False False');
  });

  test('the program cannot signal or read its supervisor (PID 1)', async () => {
    const out = await py([
      'import os, signal',
      'for sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGTERM):',
      '    try: os.kill(1, sig); print("signalled")',
      '    except PermissionError: print("EPERM")',
      'try: open("/proc/1/mem", "rb").read(1); print("read")',
      'except OSError: print("refused")',
      'print(os.stat("/proc/1").st_uid)',
    ]);
    assert.deepEqual(out, ['EPERM', 'EPERM', 'EPERM', 'refused', '0']);
  });

  test('rlimits are set soft = hard: nproc, nofile, fsize', async () => {
    const out = await py([
      'import resource as r',
      'for n in ("RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_FSIZE", "RLIMIT_CORE"):',
      '    print(n, *r.getrlimit(getattr(r, n)))',
    ]);
    assert.deepEqual(out, [
      `RLIMIT_NPROC ${stack.config.nproc} ${stack.config.nproc}`,
      'RLIMIT_NOFILE 256 256',
      `RLIMIT_FSIZE ${stack.config.tmpfsMb * 2 ** 20} ${stack.config.tmpfsMb * 2 ** 20}`,
      'RLIMIT_CORE 0 0',
    ]);
  });

  test('threads and processes hit the nproc cap', async () => {
    const out = await py([
      'import threading, time',
      'n = 0',
      'try:',
      '    while True:',
      '        threading.Thread(target=time.sleep, args=(3,), daemon=True).start(); n += 1',
      'except RuntimeError: print(n)',
    ]);
    // <= nproc: the program's main thread was forked by the supervisor as root and counts under root's
    // uid (gVisor does not move it at setuid), so all of RLIMIT_NPROC is left for threads.
    assert.ok(Number(out[0]) > 0 && Number(out[0]) <= stack.config.nproc, `capped at ${out[0]}`);
  });

  test('a fork bomb is stopped at its first fork and the next job runs normally', async () => {
    const bomb = await run(stack.app, {
      policy: 'standard',
      code: 'import os\nwhile True:\n    try: os.fork()\n    except OSError: pass',
      limits: { time_ms: 1000 },
    });
    // The seccomp floor stops the first fork; nproc and the pids cgroup stay behind it.
    assert.equal(bomb.status, 'security_violation', bomb.status);
    const started = performance.now();
    const next = await run(stack.app, { code: 'print("alive")' });
    assert.equal(next.stdout, 'alive\n');
    assert.ok(performance.now() - started < 5000, 'the worker answers promptly');
  });

  test('memory: past RLIMIT_AS, the cgroup still bounds the sandbox and it is a memory_limit', async () => {
    const r = await run(stack.app, { policy: 'standard', code: FILLS_THE_CGROUP });
    assert.equal(r.status, 'memory_limit');
  });

  test('file size and tmpfs are bounded', async () => {
    const out = await py([
      'import errno',
      'try:',
      '    with open("/tmp/big", "wb") as f:',
      '        for _ in range(64): f.write(b"x" * 2**20)',
      '    print("wrote 64 MB")',
      'except OSError as e: print(errno.errorcode[e.errno])',
    ]);
    assert.ok(['EFBIG', 'ENOSPC'].includes(out[0] ?? ''), out[0]);
  });
});
