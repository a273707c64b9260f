import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { classify, lostBecause } from '@sbx/worker';

/**
 * One test per row of the verdicts table (docs/verdicts.md), named by its row number; the
 * last test holds the table and this file to each other.
 */
const covered = new Set<number>();
const row = (n: number, name: string, fn: () => void) => {
  covered.add(n);
  test(`row ${n}: ${name}`, fn);
};
/** Rows whose rule lives outside classify.ts, and the test that covers each. */
const TESTED_ELSEWHERE: Record<number, string> = { 19: 'test/sandbox/python-data.test.ts' };

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
/** A program that peaked well over its 128 MB limit (200 MB) and freed it before it ended. */
const peaked = { ...report, max_rss_kb: 200 * 1024 };

/** A run the worker did not stop, the harness did not finish, with no OOM evidence: rows 2-6 decide. */
const unfinished = {
  killedBy: null,
  oomKilled: false,
  exitCode: 137,
  completed: false,
  streamCut: false,
  engineKilled: false,
} as const;

row(1, 'a frame that broke the wire protocol is retried, whatever else happened, unless cancelled', () => {
  const fault = { ...unfinished, completed: true, protocolFault: 'a report frame that is not JSON' };
  assert.match(lostBecause(fault) ?? '', /broke its wire protocol: a report frame that is not JSON/);
  assert.match(lostBecause({ ...fault, killedBy: 'deadline' }) ?? '', /wire protocol/);
  assert.equal(lostBecause({ ...fault, killedBy: 'abort' }), null);
});

row(2, 'an attach stream cut while the container lived on is retried', () => {
  assert.match(lostBecause({ ...unfinished, streamCut: true }) ?? '', /output stream was cut/);
});

row(3, 'no exit status is retried', () => {
  assert.match(lostBecause({ ...unfinished, exitCode: null }) ?? '', /exit status was lost/);
});

row(4, "a signal exit with the engine's own kill event is retried, naming the signal", () => {
  assert.match(
    lostBecause({ ...unfinished, engineKilled: true }) ?? '',
    /the Docker engine stopped the sandbox \(signal 9, SIGKILL\)/,
  );
});

row(5, 'a signal exit without that evidence is retried as a kill from outside the engine', () => {
  assert.match(lostBecause(unfinished) ?? '', /killed from outside the engine \(signal 9, SIGKILL\)/);
});

row(
  6,
  'any other exit but 70 without the harness finishing is retried; the worker, the harness and OOM evidence judge instead',
  () => {
    assert.match(
      lostBecause({ ...unfinished, exitCode: 1 }) ?? '',
      /harness ended without finishing the run \(exit code 1\)/,
    );
    assert.equal(lostBecause({ ...unfinished, exitCode: 70 }), null, 'row 14');
    assert.equal(lostBecause({ ...unfinished, killedBy: 'deadline' }), null);
    assert.equal(lostBecause({ ...unfinished, completed: true }), null);
    assert.equal(lostBecause({ ...unfinished, oomKilled: true }), null, 'row 9');
  },
);

row(7, 'a cancel is cancelled, whatever the container looked like when killed', () => {
  const v = judge({ report: null, run: { killedBy: 'abort', oomKilled: true, exitCode: 137 } });
  assert.deepEqual(v, { status: 'cancelled', signal: null, message: 'cancelled by request' });
});

row(
  8,
  "the worker's deadline, the harness's time limit and the CPU backstop are timeout, before any OOM evidence",
  () => {
    const deadline = judge({ run: { killedBy: 'deadline', oomKilled: true, exitCode: 137 }, report: null });
    assert.deepEqual([deadline.status, deadline.message], ['timeout', 'time limit of 2000 ms exceeded']);
    assert.equal(judge({ report: { ...report, timed_out: true, exit_code: 137, signal: 9 } }).status, 'timeout');
    const cpu = judge({
      report: { ...report, timed_out: true, cpu_limit: true, exit_code: 137, signal: 9, cpu_time: 4.02 },
    });
    assert.equal(cpu.status, 'timeout');
    assert.equal(cpu.message, "time limit of 2000 ms exceeded: the program's threads used 4.0 s of CPU");
  },
);

test('row 8, interactive: each bound ends it as timeout with a message naming the bound', () => {
  const interactive = { wall_ms: 60_000, idle_ms: 30_000 };
  const ended = (bound: 'cpu' | 'wall' | 'idle', cpu = false) =>
    judge({
      interactive,
      report: { ...report, timed_out: true, cpu_limit: cpu, exit_code: 137, signal: 9, cpu_time: 2.01, bound },
    });
  assert.deepEqual(
    [ended('wall').status, ended('wall').message],
    ['timeout', 'wall-clock limit of 60000 ms for an interactive job exceeded'],
  );
  assert.equal(ended('idle').message, 'no input for 30000 ms: the idle-input limit of an interactive job');
  assert.equal(ended('cpu', true).message, "time limit of 2000 ms exceeded: the program's threads used 2.0 s of CPU");
  const deadline = judge({ interactive, run: { killedBy: 'deadline', oomKilled: false, exitCode: 137 }, report: null });
  assert.equal(
    deadline.message,
    'wall-clock limit of 60000 ms for an interactive job exceeded',
    "the worker's deadline",
  );
  assert.equal(judge({ interactive, report: { ...report, bound: null } }).status, 'ok', 'a run that ended by itself');
});

row(9, 'a kernel OOM kill in the sandbox is memory_limit: the whole sandbox, or (systrap) only the program', () => {
  const message =
    "memory limit of 128 MB exceeded: the sandbox ran out of memory and the kernel's OOM killer ended the program";
  const oom = { killedBy: null, oomKilled: true, exitCode: 137 } as const;
  // The whole sandbox: no report.
  assert.deepEqual(judge({ run: oom, report: null }), { status: 'memory_limit', signal: null, message });
  // Only the program's stub process: gVisor ends the program with exit 1, the harness reports it, the counter rose.
  const stub = { ...report, exit_code: 1, ended_itself: false, max_rss_kb: 100 * 1024 };
  assert.equal(judge({ run: { ...run, oomKilled: true }, report: stub }).status, 'memory_limit');
  // It outranks the output cap and a violation (the worker's own evidence, before the report's).
  assert.equal(judge({ run: { ...oom, killedBy: 'output_cap' }, outputBytes: 1000 }).status, 'memory_limit');
  const violation = { message: 'x', line: null };
  assert.equal(judge({ run: { ...run, oomKilled: true }, report: { ...report, violation } }).status, 'memory_limit');
});

row(10, "the program's own allocation refused and not caught (MemoryError, or ENOMEM) is memory_limit", () => {
  const v = judge({ report: { ...report, exit_code: 1, memory_error: true } });
  assert.deepEqual(v, {
    status: 'memory_limit',
    signal: null,
    message:
      'memory limit of 128 MB exceeded: an allocation was refused (MemoryError or ENOMEM) and the program did not catch it',
  });
  // However little the program held: the refusal is the evidence, not a peak.
  assert.equal(
    judge({ report: { ...report, exit_code: 1, memory_error: true, max_rss_kb: 10 } }).status,
    'memory_limit',
  );
});

row(11, 'the worker stopping the run at the output cap is output_limit, saying the run was stopped', () => {
  const v = judge({ run: { killedBy: 'output_cap', oomKilled: false, exitCode: 137 }, report: null });
  assert.deepEqual(v, {
    status: 'output_limit',
    signal: null,
    message: 'output exceeded the limit of 100 bytes (stdout and stderr together): the run was stopped',
  });
  // The kill lands late: the harness reached the time limit meanwhile. The cap came first.
  const late = judge({
    run: { killedBy: 'output_cap', oomKilled: false, exitCode: 137 },
    report: { ...report, timed_out: true, exit_code: 137, signal: 9 },
  });
  assert.equal(late.status, 'output_limit');
});

row(12, 'more output than the cap in a run that ended by itself is output_limit; exactly the cap is not', () => {
  const v = judge({ outputBytes: 101 });
  assert.equal(v.status, 'output_limit');
  assert.match(v.message ?? '', /limit of 100 bytes .*: what came after it was dropped/);
  assert.equal(judge({ outputBytes: 100 }).status, 'ok');
  const violation = { message: 'x', line: null };
  assert.equal(judge({ report: { ...report, violation }, outputBytes: 1000 }).status, 'output_limit');
});

row(13, 'a refused action is security_violation, naming what and where, however much the program held', () => {
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
  // python-data preloads 130 MB; a refusal ends the program from outside its exit path.
  const refused = { ...peaked, exit_code: 99, ended_itself: false, violation: { message: 'writing files', line: 3 } };
  assert.equal(judge({ report: refused }).status, 'security_violation');
});

row(14, 'exit 70 without a report is internal_error: the harness refused its frame', () => {
  const v = judge({ report: null, run: { ...run, exitCode: 70 } });
  assert.deepEqual(v, {
    status: 'internal_error',
    signal: null,
    message: 'the sandbox harness rejected its job frame',
  });
  // With a report, 70 is the program's own exit code.
  assert.equal(judge({ report: { ...report, exit_code: 70 } }).message, 'exited with code 70');
});

row(15, 'no exit code at all is internal_error', () => {
  const v = judge({ report: null, run: { ...run, exitCode: null } });
  assert.deepEqual(v, { status: 'internal_error', signal: null, message: 'the sandbox exit code was lost' });
});

row(
  16,
  'a signal is runtime_error with that signal: a SIGKILL the program sent itself after a peak over its limit too',
  () => {
    const seg = judge({ report: { ...report, exit_code: 139, signal: 11 } });
    assert.deepEqual(seg, { status: 'runtime_error', signal: 11, message: 'killed by signal 11 (SIGSEGV)' });
    const selfKill = judge({ report: { ...peaked, exit_code: 137, signal: 9, ended_itself: false } });
    assert.deepEqual(selfKill, { status: 'runtime_error', signal: 9, message: 'killed by signal 9 (SIGKILL)' });
    // Without a report, exit 128+n; with no OOM evidence, exit 137 is a SIGKILL and nothing more.
    const noReport = judge({ run: { ...run, exitCode: 137 }, report: null });
    assert.deepEqual([noReport.status, noReport.signal], ['runtime_error', 9]);
    assert.equal(judge({ report: { ...report, exit_code: 159, signal: 31 } }).message, 'killed by signal 31 (SIGSYS)');
  },
);

row(
  17,
  'a non-zero exit is runtime_error with its code, whatever the program held before; the report beats the container',
  () => {
    const exit3 = judge({ report: { ...report, exit_code: 3 }, run: { ...run, exitCode: 0 } });
    assert.deepEqual(exit3, { status: 'runtime_error', signal: null, message: 'exited with code 3' });
    // Peaked over its limit, freed, then os._exit(1) (no exit path) or sys.exit(1).
    for (const ended_itself of [false, true]) {
      const v = judge({ report: { ...peaked, exit_code: 1, ended_itself } });
      assert.deepEqual(
        v,
        { status: 'runtime_error', signal: null, message: 'exited with code 1' },
        `ended_itself ${ended_itself}`,
      );
    }
    assert.equal(judge({ report: null, run: { ...run, exitCode: 2 } }).message, 'exited with code 2');
  },
);

row(18, 'exit 0 is ok, os._exit(0) after a peak over the limit included', () => {
  assert.deepEqual(judge({}), { status: 'ok', signal: null });
  assert.deepEqual(judge({ report: { ...peaked, ended_itself: false } }), { status: 'ok', signal: null });
  assert.deepEqual(judge({ report: null }), { status: 'ok', signal: null });
});

test("docs/verdicts.md's table and these tests cover the same rows", async () => {
  const doc = await readFile(new URL('../../docs/verdicts.md', import.meta.url), 'utf8');
  const section = /^# Verdicts\n([\s\S]*?)\n## /.exec(doc)?.[1] ?? '';
  const rows = [...section.matchAll(/^\| (\d+) +\|/gm)].map((m) => Number(m[1]));
  assert.ok(rows.length > 0, 'the table was found');
  assert.deepEqual(
    rows,
    [...rows].sort((a, b) => a - b),
    'rows are numbered in order',
  );
  const tested = [...covered, ...Object.keys(TESTED_ELSEWHERE).map(Number)].sort((a, b) => a - b);
  assert.deepEqual(rows, tested);
});
