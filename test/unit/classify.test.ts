import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classify } from '@sbx/worker';

const limits = { time_ms: 2000, memory_mb: 128 };
const report = {
  timed_out: false,
  cpu_limit: false,
  exit_code: 0,
  signal: null,
  time: 0.01,
  cpu_time: 0.01,
  max_rss_kb: 1000,
  memory_error: false,
  ended_itself: true,
  violation: null,
};
const run = { killedBy: null, oomKilled: false, exitCode: 0 } as const;
const judge = (over: Partial<Parameters<typeof classify>[0]>) =>
  classify({ run, report, outputBytes: 10, outputCap: 100, limits, ...over });

test('a clean exit is ok', () => {
  assert.deepEqual(judge({}), { status: 'ok', signal: null });
});

test('the worker deadline wins over everything, even an OOM flag and a forged report', () => {
  const v = judge({ run: { killedBy: 'deadline', oomKilled: true, exitCode: 137 }, report: null });
  assert.equal(v.status, 'timeout');
  assert.match(v.message ?? '', /2000 ms/);
});

test('the harness timeout is a timeout', () => {
  assert.equal(judge({ report: { ...report, timed_out: true, exit_code: 137, signal: 9 } }).status, 'timeout');
});

test('the CPU backstop is a timeout that says the threads spent the CPU time', () => {
  const v = judge({
    report: { ...report, timed_out: true, cpu_limit: true, exit_code: 137, signal: 9, cpu_time: 4.02 },
  });
  assert.equal(v.status, 'timeout');
  assert.match(v.message ?? '', /2000 ms exceeded: the program's threads used 4\.0 s of CPU/);
});

test('a SIGKILL while holding more than the memory limit is memory_limit; under it, a runtime_error', () => {
  const killed = { ...report, exit_code: 137, signal: 9 };
  assert.equal(judge({ report: { ...killed, max_rss_kb: 135_204 } }).status, 'memory_limit');
  assert.equal(judge({ report: { ...killed, max_rss_kb: 128 * 1024 } }).status, 'memory_limit');
  const underLimit = judge({ report: { ...killed, max_rss_kb: 100 * 1024 } });
  assert.equal(underLimit.status, 'runtime_error');
  assert.match(underLimit.message ?? '', /SIGKILL/);
  assert.equal(judge({ report: { ...report, exit_code: 1, max_rss_kb: 200 * 1024 } }).status, 'runtime_error');
});

test('ended from outside with exit 1 over the memory limit is memory_limit (systrap kills only the address space)', () => {
  // What gVisor 20240729 reports when the host OOM killer takes the program's stub process.
  const ended = { ...report, exit_code: 1, ended_itself: false };
  assert.equal(judge({ report: { ...ended, max_rss_kb: 144_100 } }).status, 'memory_limit');
  const under = judge({ report: { ...ended, max_rss_kb: 100 * 1024 } });
  assert.deepEqual([under.status, under.message], ['runtime_error', 'exited with code 1']);
  // Its own exit (an uncaught exception) while holding that much is the program's failure, as before.
  assert.equal(judge({ report: { ...ended, ended_itself: true, max_rss_kb: 144_100 } }).status, 'runtime_error');
  // os._exit(0) skips the exit path too: still ok.
  assert.equal(judge({ report: { ...ended, exit_code: 0, max_rss_kb: 144_100 } }).status, 'ok');
});

test('OOMKilled is memory_limit; exit 137 alone is not', () => {
  assert.equal(judge({ run: { killedBy: null, oomKilled: true, exitCode: 137 }, report: null }).status, 'memory_limit');
  const selfKill = judge({ run: { killedBy: null, oomKilled: false, exitCode: 137 }, report: null });
  assert.equal(selfKill.status, 'runtime_error');
  assert.equal(selfKill.signal, 9);
  assert.match(selfKill.message ?? '', /SIGKILL/);
});

test('a MemoryError reported by the harness is memory_limit', () => {
  assert.equal(judge({ report: { ...report, exit_code: 1, memory_error: true } }).status, 'memory_limit');
});

test('memory beats output: an OOM during a flood is memory_limit', () => {
  const v = judge({ run: { killedBy: 'output_cap', oomKilled: true, exitCode: 137 }, outputBytes: 1000 });
  assert.equal(v.status, 'memory_limit');
});

test('the output cap is output_limit, whether the worker stopped the run or the bytes merely exceed it', () => {
  assert.equal(judge({ run: { killedBy: 'output_cap', oomKilled: false, exitCode: 137 } }).status, 'output_limit');
  assert.equal(judge({ outputBytes: 101 }).status, 'output_limit');
  assert.equal(judge({ outputBytes: 100 }).status, 'ok');
});

test('a violation reported by the policy layer is security_violation, naming what and where', () => {
  const v = judge({
    report: { ...report, exit_code: 99, violation: { message: "import of 'os' is not allowed", line: 3 } },
  });
  assert.deepEqual(v, {
    status: 'security_violation',
    signal: null,
    message: "import of 'os' is not allowed (line 3)",
  });
  const noLine = judge({ report: { ...report, exit_code: 99, violation: { message: 'network access', line: null } } });
  assert.equal(noLine.message, 'network access');
});

test('the deadline, OOM and the output cap outrank a violation', () => {
  const violation = { message: 'x', line: null };
  assert.equal(judge({ report: { ...report, violation }, run: { ...run, killedBy: 'deadline' } }).status, 'timeout');
  assert.equal(judge({ report: { ...report, violation }, run: { ...run, oomKilled: true } }).status, 'memory_limit');
  assert.equal(judge({ report: { ...report, violation }, outputBytes: 1000 }).status, 'output_limit');
});

test('signals and exit codes are runtime_error; the report beats the container exit code', () => {
  const seg = judge({ report: { ...report, exit_code: 139, signal: 11 } });
  assert.deepEqual([seg.status, seg.signal], ['runtime_error', 11]);
  assert.match(seg.message ?? '', /SIGSEGV/);
  const exit3 = judge({ report: { ...report, exit_code: 3 }, run: { ...run, exitCode: 0 } });
  assert.deepEqual([exit3.status, exit3.message], ['runtime_error', 'exited with code 3']);
});

test('a harness that rejected its frame and a lost exit code are internal_error', () => {
  assert.equal(judge({ report: null, run: { ...run, exitCode: 70 } }).status, 'internal_error');
  assert.equal(judge({ report: null, run: { ...run, exitCode: null } }).status, 'internal_error');
});

test('a cancel (abort) is cancelled, whatever the container looked like when killed', () => {
  assert.equal(
    judge({ report: null, run: { killedBy: 'abort', oomKilled: false, exitCode: 137 } }).status,
    'cancelled',
  );
});

test('without a report the container exit code decides', () => {
  assert.equal(judge({ report: null, run: { ...run, exitCode: 0 } }).status, 'ok');
  assert.equal(judge({ report: null, run: { ...run, exitCode: 2 } }).status, 'runtime_error');
});

test('a refused action is a security_violation however much the process held (python-data preloads 130 MB)', () => {
  const refused = {
    ...report,
    exit_code: 99,
    ended_itself: false,
    max_rss_kb: 140_000,
    violation: { message: 'writing files is not allowed', line: 3 },
  };
  assert.equal(judge({ report: refused }).status, 'security_violation');
});
