import assert from 'node:assert/strict';
import { test } from 'node:test';
import { limitsOf, PistonError, pistonJob } from '@sbx/api/compat/piston/request';
import { pistonRun } from '@sbx/api/compat/piston/results';
import { type PistonRuntime, pistonRuntimes, selectRuntime } from '@sbx/api/compat/piston/runtimes';
import { type RunResult, signalName, signalNumber } from '@sbx/shared';

const BOUNDS = { defaultTimeMs: 1000, maxTimeMs: 2000, defaultMemoryMb: 128, maxMemoryMb: 256, minMemoryMb: 64 };
const MIB = 1024 * 1024;

test('signalName and signalNumber: the x86-64 table, 1-31, both ways', () => {
  assert.equal(signalName(9), 'SIGKILL');
  assert.equal(signalName(11), 'SIGSEGV');
  assert.equal(signalName(31), 'SIGSYS');
  for (const n of [0, 32, -1, 1.5, Number.NaN]) assert.equal(signalName(n), null, String(n));
  assert.equal(signalNumber('SIGKILL'), 9);
  assert.equal(signalNumber('kill'), 9);
  assert.equal(signalNumber('sigxfsz'), 25);
  assert.equal(signalNumber('SIGRTMIN'), null);
  assert.equal(signalNumber(''), null);
  for (let n = 1; n <= 31; n++) assert.equal(signalNumber(signalName(n) as string), n);
});

const RUNTIMES: PistonRuntime[] = [
  { language: 'python', version: '3.11.2', aliases: ['py', 'py3', 'python3'], environment: 'python' },
  { language: 'python', version: '3.12.1', aliases: ['py'], environment: 'python-data' },
];

test('selectRuntime: language or alias, a semver range, the newest that satisfies it', () => {
  assert.equal(selectRuntime(RUNTIMES, 'python', '*')?.version, '3.12.1');
  assert.equal(selectRuntime(RUNTIMES, 'py', '3.11.x')?.version, '3.11.2');
  assert.equal(selectRuntime(RUNTIMES, 'py3', '*')?.version, '3.11.2');
  assert.equal(selectRuntime(RUNTIMES, 'python', '<3.12')?.version, '3.11.2');
  assert.equal(selectRuntime(RUNTIMES, 'python', '3.10.0'), undefined);
  assert.equal(selectRuntime(RUNTIMES, 'python', 'nonsense'), undefined);
  assert.equal(selectRuntime(RUNTIMES, 'ruby', '*'), undefined);
});

test("pistonRuntimes: each environment under Piston's name, its version from the workers or 3.11.0", () => {
  const listed = pistonRuntimes({
    environments: [
      { name: 'python', description: '', default: true, versions: { python: '3.11.2' }, workers: 1 },
      { name: 'python-data', description: '', default: false, versions: null, workers: 0 },
    ],
  });
  assert.deepEqual(
    listed.map((r) => [r.language, r.version, r.environment]),
    [
      ['python', '3.11.2', 'python'],
      ['python-data', '3.11.0', 'python-data'],
    ],
  );
});

test('limitsOf: ms and bytes; clamped above our maxima and below our minimum, and said', () => {
  assert.deepEqual(limitsOf({}, BOUNDS), { limits: { time_ms: 1000, memory_mb: 128 }, clamped: [] });
  assert.deepEqual(limitsOf({ run_timeout: 3000, run_memory_limit: -1 }, BOUNDS), {
    limits: { time_ms: 2000, memory_mb: 256 },
    clamped: ['run_timeout=2000', `run_memory_limit=${256 * MIB}`],
  });
  assert.deepEqual(limitsOf({ run_timeout: 900, run_cpu_time: 400, run_memory_limit: 100 * MIB }, BOUNDS), {
    limits: { time_ms: 400, memory_mb: 100 },
    clamped: [],
  });
  assert.deepEqual(limitsOf({ run_cpu_time: 5000 }, BOUNDS).clamped, ['run_cpu_time=2000']);
  assert.deepEqual(limitsOf({ run_memory_limit: 10 }, BOUNDS), {
    limits: { time_ms: 1000, memory_mb: 64 },
    clamped: [`run_memory_limit=${64 * MIB}`],
  });
  assert.equal(limitsOf({ run_timeout: 0.4 }, BOUNDS).limits.time_ms, 1, 'at least 1 ms, whole');
});

test('pistonJob: the first utf8 file is the code; a PistonError (400) for what Piston refuses', () => {
  const job = pistonJob(
    { language: 'py', version: '*', files: [{ content: 'AA==', encoding: 'base64', name: 'a.bin' }, { content: 'x' }] },
    RUNTIMES,
    BOUNDS,
    'standard',
  );
  assert.equal(job.request.code, 'x');
  assert.deepEqual(job.request.files, [{ name: 'a.bin', content: 'AA==', encoding: 'base64' }]);
  assert.equal(job.request.environment, 'python-data');
  assert.throws(
    () => pistonJob({ language: 'py', version: '*', files: [] }, RUNTIMES, BOUNDS, 'strict'),
    (err) => err instanceof PistonError && err.statusCode === 400 && /at least one utf8/.test(err.message),
  );
});

const RESULT: RunResult = {
  id: 'j',
  status: 'ok',
  stdout: 'out',
  stderr: 'err',
  exit_code: 0,
  signal: null,
  time: 0.0123,
  cpu_time: 0.0456,
  memory_kb: 1000,
  stdout_truncated: false,
  stderr_truncated: false,
  limits: { time_ms: 1000, memory_mb: 128 },
  policy: 'standard',
  wall_time: 0.1,
  submitted_at: '2026-01-01T00:00:00.000Z',
  finished_at: '2026-01-01T00:00:01.000Z',
};

test("pistonRun: Piston's keys and units; each verdict's status, signal, code and message", () => {
  const ok = pistonRun(RESULT, null);
  assert.deepEqual(Object.keys(ok), [
    'signal',
    'stdout',
    'stderr',
    'code',
    'output',
    'memory',
    'message',
    'status',
    'cpu_time',
    'wall_time',
  ]);
  assert.deepEqual([ok.output, ok.memory, ok.cpu_time, ok.wall_time], ['outerr', 1024 * 1000, 46, 12]);
  assert.equal(pistonRun(RESULT, 'eoruttr').output, 'eoruttr');
  const ending = (over: Partial<RunResult>) => {
    const run = pistonRun({ ...RESULT, ...over }, null);
    return [run.status, run.signal, run.code, run.message];
  };
  assert.deepEqual(ending({}), [null, null, 0, null]);
  assert.deepEqual(ending({ status: 'runtime_error', exit_code: 3 }), ['RE', null, 3, 'Exited with error status 3']);
  assert.deepEqual(ending({ status: 'runtime_error', exit_code: 139, signal: 11 }), [
    'SG',
    'SIGSEGV',
    null,
    'Caught fatal signal 11',
  ]);
  assert.deepEqual(ending({ status: 'timeout', exit_code: null }), ['TO', 'SIGKILL', null, 'Time limit exceeded']);
  assert.deepEqual(ending({ status: 'memory_limit', message: 'over 128 MB' }), ['SG', 'SIGKILL', null, 'over 128 MB']);
  assert.deepEqual(ending({ status: 'output_limit', stdout_truncated: true }), [
    'OL',
    'SIGKILL',
    null,
    'stdout length exceeded',
  ]);
  assert.deepEqual(ending({ status: 'output_limit', stderr_truncated: true }), [
    'EL',
    'SIGKILL',
    null,
    'stderr length exceeded',
  ]);
  assert.deepEqual(ending({ status: 'security_violation', exit_code: 99, message: 'refused: os.fork' }), [
    'RE',
    null,
    99,
    'refused: os.fork',
  ]);
  assert.deepEqual(ending({ status: 'cancelled', exit_code: null, message: 'cancelled by request' }), [
    'XX',
    null,
    null,
    'cancelled by request',
  ]);
});
