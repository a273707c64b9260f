import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { loadConfig } from '@sbx/shared';
import { DockerSandboxRunner, sandboxSettingsFromConfig } from '@sbx/worker';
import Docker from 'dockerode';
import type { RawRun, RunInput } from '../../apps/worker/src/sandbox/types.js';

/**
 * Artifacts through a real sandbox (the harness and DockerSandbox, without the queue): files under
 * /tmp/outputs in the standard profile, matplotlib figures in python-data, and the caps.
 */
const docker = new Docker();
const config = loadConfig({});
const workerId = `arttest-${randomBytes(3).toString('hex')}`;
const runner = new DockerSandboxRunner({
  docker,
  workerId,
  prefix: `sbxtest-${workerId}`,
  keepOutputBytes: 1 << 20,
  wallGraceMs: 2000,
  settings: sandboxSettingsFromConfig(config),
});

const CAPS: NonNullable<RunInput['artifacts']> = { format: 'png', maxCount: 10, maxBytes: 8 << 20 };

type Options = Partial<Pick<RunInput, 'policy' | 'artifacts' | 'tests'>> & { environment?: 'python' | 'python-data' };

async function runOnce(code: string, opts: Options = {}): Promise<RawRun> {
  const sandbox = await runner.acquire(
    { time_ms: 10_000, memory_mb: 256, environment: opts.environment ?? 'python' },
    { jobId: 'artifacts-harness' },
  );
  try {
    return await sandbox.run({
      code,
      stdin: '',
      policy: opts.policy ?? 'standard',
      ...('artifacts' in opts ? (opts.artifacts ? { artifacts: opts.artifacts } : {}) : { artifacts: CAPS }),
      ...(opts.tests ? { tests: opts.tests } : {}),
    });
  } finally {
    await sandbox.dispose();
  }
}

/** The program's own stderr: nothing of the harness is in it (its report and artifacts come in frames of their own). */
const userStderr = (raw: RawRun) => raw.stderr.toString();
const byName = (raw: RawRun) => Object.fromEntries(raw.artifacts.map((a) => [a.name, a]));

describe('artifacts: files under /tmp/outputs (python image)', () => {
  test('a standard-profile program gets its files back, subfolders included, with their bytes', async () => {
    const raw = await runOnce(
      [
        'import os, sys',
        'st = os.stat("/tmp/outputs")',
        'print(oct(st.st_mode & 0o777), st.st_uid)',
        'os.makedirs("/tmp/outputs/sub")',
        'open("/tmp/outputs/a.txt", "w").write("hello")',
        'open("/tmp/outputs/sub/b.csv", "wb").write(b"x,y\\n1,2\\n\\xff")',
        'sys.stderr.write("no newline at the end")',
      ].join('\n'),
    );
    assert.equal(raw.completed, true);
    assert.equal(raw.stdout.toString(), '0o700 10001\n');
    assert.equal(userStderr(raw), 'no newline at the end');
    assert.deepEqual(
      raw.artifacts.map((a) => [a.name, a.mime, a.data.toString('latin1')]),
      [
        ['a.txt', 'text/plain', 'hello'],
        ['sub/b.csv', 'text/csv', 'x,y\n1,2\n\xff'],
      ],
    );
    assert.deepEqual(raw.artifactsDropped, { count: 0, names: [] });
    assert.equal(raw.report?.artifacts_dropped, 0);
    assert.deepEqual(raw.artifactsSkipped, { count: 0, names: [] });
    assert.equal(raw.protocolFault, null);
  });

  test('symlinks are not followed, FIFOs do not block, unreadable files are skipped', async () => {
    const raw = await runOnce(
      [
        'import os',
        'open("/tmp/secret.txt", "w").write("outside outputs")',
        // The policy refuses a symlink whose target is outside /tmp (so /etc/passwd itself cannot be
        // named); one to a file under /tmp, and one to /tmp itself, are what a program can make.
        'os.symlink("/tmp/secret.txt", "/tmp/outputs/link.txt")',
        'os.symlink("/tmp", "/tmp/outputs/dir")',
        'os.mkfifo("/tmp/outputs/fifo")',
        'open("/tmp/outputs/locked.txt", "w").write("x")',
        'os.chmod("/tmp/outputs/locked.txt", 0)',
        'open("/tmp/outputs/real.txt", "w").write("real")',
        'print(sorted(os.listdir("/tmp/outputs")))',
      ].join('\n'),
    );
    assert.equal(raw.completed, true, raw.stderr.toString());
    assert.equal(raw.stdout.toString(), "['dir', 'fifo', 'link.txt', 'locked.txt', 'real.txt']\n");
    assert.deepEqual(
      raw.artifacts.map((a) => [a.name, a.data.toString()]),
      [['real.txt', 'real']],
    );
    assert.equal(raw.artifactsDropped.count, 0);
  });

  test('a file whose name cannot leave the sandbox is skipped, not dropped; the file beside it comes back', async () => {
    const raw = await runOnce(
      [
        'open("/tmp/outputs/good.txt", "w").write("good")',
        'open("/tmp/outputs/bad\\nname.txt", "w").write("bad")',
        'print("ok")',
      ].join('\n'),
    );
    assert.equal(raw.completed, true, userStderr(raw));
    assert.equal(raw.stdout.toString(), 'ok\n');
    assert.deepEqual(
      raw.artifacts.map((a) => [a.name, a.data.toString()]),
      [['good.txt', 'good']],
    );
    // Left out for its name alone: no limit's doing, and named printably.
    assert.deepEqual(raw.artifactsSkipped, { count: 1, names: ['bad?name.txt'] });
    assert.deepEqual(raw.artifactsDropped, { count: 0, names: [] });
    assert.equal(raw.report?.artifacts_skipped, 1);
    assert.equal(raw.report?.artifacts_dropped, 0);
    assert.equal(raw.protocolFault, null);
  });

  test('names as long as the supervisor allows come back, and a report naming the most of them fits its frame', async () => {
    // Three folders of 60 astral characters: each file's name is 186 characters (372 UTF-16 units).
    const raw = await runOnce(
      [
        'import os',
        'p = "/tmp/outputs"',
        'for i in range(3):',
        '    p += "/" + "\\U0001F600" * 60',
        '    os.makedirs(p)',
        'for i in range(25):',
        '    open(p + "/%02d" % i, "w").write("x")',
        '    open(p + "/\\n%02d" % i, "w").write("x")',
        'print("ok")',
      ].join('\n'),
      { artifacts: { ...CAPS, maxCount: 3 } },
    );
    assert.equal(raw.protocolFault, null, raw.harnessLog);
    assert.equal(raw.completed, true);
    assert.equal(raw.stdout.toString(), 'ok\n');
    const dir = Array.from({ length: 3 }, () => '😀'.repeat(60)).join('/');
    assert.deepEqual(
      raw.artifacts.map((a) => a.name),
      ['00', '01', '02'].map((n) => `${dir}/${n}`),
    );
    assert.equal(raw.artifactsDropped.count, 22);
    assert.equal(raw.artifactsDropped.names.length, 20);
    assert.equal(raw.artifactsSkipped.count, 25);
    assert.equal(raw.artifactsSkipped.names[0], `${dir}/?00`);
  });

  test('past max_count what fit is kept in order, the rest dropped and named; max_bytes likewise', async () => {
    const code = ['for n in "abcde":', '    open(f"/tmp/outputs/{n}.txt", "w").write(n * 100)'].join('\n');
    const byCount = await runOnce(code, { artifacts: { ...CAPS, maxCount: 3 } });
    assert.deepEqual(
      byCount.artifacts.map((a) => a.name),
      ['a.txt', 'b.txt', 'c.txt'],
    );
    assert.deepEqual(byCount.artifactsDropped, { count: 2, names: ['d.txt', 'e.txt'] });
    const byBytes = await runOnce(code, { artifacts: { ...CAPS, maxBytes: 250 } });
    assert.deepEqual(
      byBytes.artifacts.map((a) => a.name),
      ['a.txt', 'b.txt'],
    );
    assert.deepEqual(byBytes.artifactsDropped, { count: 3, names: ['c.txt', 'd.txt', 'e.txt'] });
  });

  test('artifacts larger than the output cap come back without tripping it', async () => {
    // 3 MB of file against 1 MiB of output kept: the artifacts have their own budget.
    const raw = await runOnce(
      'import os\nopen("/tmp/outputs/big.bin", "wb").write(bytes(range(256)) * (3 * 4096))\nprint("done")',
    );
    assert.equal(raw.killedBy, null);
    assert.equal(raw.outputOverflow, false);
    assert.equal(raw.stdout.toString(), 'done\n');
    const big = byName(raw)['big.bin'];
    assert.equal(big?.mime, 'application/octet-stream');
    assert.ok(big?.data.equals(Buffer.from(Array.from({ length: 3 * 4096 }, () => [...Array(256).keys()]).flat())));
  });

  test('a strict program gets no files back (it cannot write any), and its output is untouched', async () => {
    const raw = await runOnce('print(1)', { policy: 'strict' });
    assert.equal(raw.stdout.toString(), '1\n');
    assert.equal(userStderr(raw), '');
    assert.deepEqual(raw.artifacts, []);
  });

  test('print(1) is byte for byte what it was, and sends nothing extra', async () => {
    const withCaps = await runOnce('print(1)');
    const without = await runOnce('print(1)', { artifacts: undefined });
    for (const raw of [withCaps, without]) {
      assert.equal(raw.stdout.toString(), '1\n');
      assert.equal(userStderr(raw), '');
      assert.deepEqual(raw.artifacts, []);
      assert.deepEqual(raw.artifactsDropped, { count: 0, names: [] });
      // Nothing but the report: no artifact frame, no artifact fields in it.
      assert.equal(raw.report?.artifacts_dropped, undefined);
      assert.equal(raw.report?.artifacts_skipped, undefined);
      assert.equal(raw.completed, true);
      assert.equal(raw.protocolFault, null);
    }
  });

  test('test-case jobs collect nothing, and their slices are as before', async () => {
    const tests = [
      { stdin: '1\n', time_ms: 2000, memory_mb: 64 },
      { stdin: '2\n', time_ms: 2000, memory_mb: 64 },
    ];
    const raw = await runOnce(
      'x = input()\nopen(f"/tmp/outputs/t{x}.txt", "w").write(x)\nimport sys; sys.stderr.write("e" + x)\nprint(x)',
      { tests },
    );
    assert.deepEqual(raw.artifacts, []);
    assert.deepEqual(
      raw.tests.map((s) => [s.stdout.toString(), s.stderr.toString(), s.report?.exit_code]),
      [
        ['1\n', 'e1', 0],
        ['2\n', 'e2', 0],
      ],
    );
  });
});

describe('test slices of a raw run (python image)', () => {
  test('a run stopped inside a test that wrote nothing yet still has that test, report null', async () => {
    const sandbox = await runner.acquire(
      { time_ms: 10_000, memory_mb: 256, environment: 'python' },
      { jobId: 'slices' },
    );
    const abort = new AbortController();
    try {
      const raw = await sandbox.run(
        {
          code: 'x = input()\nif x == "spin":\n    while True: pass\nprint(x)',
          stdin: '',
          policy: 'standard',
          tests: [
            { stdin: '1\n', time_ms: 5000, memory_mb: 64 },
            { stdin: 'spin\n', time_ms: 5000, memory_mb: 64 },
            { stdin: '3\n', time_ms: 5000, memory_mb: 64 },
          ],
          // Test 0 is done (its report is in) and test 1 starts: stop the run from outside while it spins.
          continueAfter: () => {
            setTimeout(() => abort.abort(), 500);
            return true;
          },
        },
        abort.signal,
      );
      assert.equal(raw.killedBy, 'abort');
      assert.deepEqual(
        raw.tests.map((s) => [s.stdout.toString(), s.stderr.toString(), s.report?.exit_code ?? null]),
        [
          ['1\n', '', 0],
          ['', '', null],
        ],
      );
    } finally {
      await sandbox.dispose();
    }
  });
});

const hasDataImage = (() => {
  try {
    execFileSync('docker', ['image', 'inspect', config.sandboxes['python-data'].image], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const skipData = hasDataImage
  ? false
  : `${config.sandboxes['python-data'].image} is not built (bash infra/sandbox/build-image.sh python-data): figure tests skipped`;

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Width and height from a PNG's IHDR chunk (the first, right after the signature). */
function pngSize(data: Buffer | undefined): [number, number] {
  assert.ok(data, 'no such artifact');
  assert.ok(data.subarray(0, 8).equals(PNG_SIGNATURE), 'PNG signature');
  assert.equal(data.subarray(12, 16).toString('latin1'), 'IHDR');
  return [data.readUInt32BE(16), data.readUInt32BE(20)];
}

const CHART = [
  'import matplotlib.pyplot as plt',
  'import numpy as np',
  'x = np.linspace(0, 10, 1000)',
  'fig, ax = plt.subplots(figsize=(6, 4))',
  'ax.plot(x, np.sin(x) * np.exp(-x / 5), label="damped")',
  'ax.set_title("1,000 points")',
  'ax.legend()',
].join('\n');

describe('artifacts: matplotlib figures (python-data image)', { skip: skipData }, () => {
  const data = (code: string, opts: Options = {}) => runOnce(code, { environment: 'python-data', ...opts });

  test('a figure left open comes back as a PNG', async () => {
    const raw = await data(CHART);
    assert.equal(raw.completed, true, userStderr(raw));
    assert.equal(userStderr(raw), '');
    assert.deepEqual(
      raw.artifacts.map((a) => [a.name, a.mime]),
      [['figure-1.png', 'image/png']],
    );
    assert.deepEqual(pngSize(raw.artifacts[0]?.data), [600, 400]);
  });

  test('plt.show() emits every open figure and closes them: two shows give figure-1 and figure-2', async () => {
    const raw = await data(
      [
        'import matplotlib.pyplot as plt',
        'plt.figure(figsize=(2, 2)); plt.plot([1, 2, 3]); plt.show()',
        'print(plt.get_fignums())',
        'plt.figure(figsize=(3, 2)); plt.plot([3, 2, 1]); plt.show()',
        'print(plt.get_fignums())',
      ].join('\n'),
    );
    assert.equal(raw.stdout.toString(), '[]\n[]\n');
    assert.deepEqual(
      raw.artifacts.map((a) => a.name),
      ['figure-1.png', 'figure-2.png'],
    );
    assert.deepEqual(pngSize(byName(raw)['figure-1.png']?.data), [200, 200]);
    assert.deepEqual(pngSize(byName(raw)['figure-2.png']?.data), [300, 200]);
  });

  test('svg on request', async () => {
    const raw = await data(CHART, { artifacts: { ...CAPS, format: 'svg' } });
    const svg = raw.artifacts[0];
    assert.equal(svg?.name, 'figure-1.svg');
    assert.equal(svg?.mime, 'image/svg+xml');
    assert.match(svg?.data.toString() ?? '', /^<\?xml[\s\S]*<svg[\s\S]*<\/svg>\s*$/);
  });

  test('figures still come back after an exception or sys.exit', async () => {
    const raised = await data(`${CHART}\nraise ValueError("boom")`);
    assert.match(userStderr(raised), /ValueError: boom\n$/);
    assert.equal(raised.report?.exit_code, 1);
    pngSize(byName(raised)['figure-1.png']?.data);
    const exited = await data(`${CHART}\nimport sys\nsys.exit(3)`);
    assert.equal(exited.report?.exit_code, 3);
    pngSize(byName(exited)['figure-1.png']?.data);
  });

  test('the strict profile gets its figures too', async () => {
    const raw = await data(`${CHART}\nplt.show()\nplt.figure()\nplt.title("second")`, { policy: 'strict' });
    assert.equal(raw.report?.violation, null, userStderr(raw));
    assert.deepEqual(
      raw.artifacts.map((a) => a.name),
      ['figure-1.png', 'figure-2.png'],
    );
  });

  test('figures past the caps are dropped and counted, figures first and files after', async () => {
    const raw = await data(
      [
        'import matplotlib.pyplot as plt',
        'for i in range(4):',
        '    plt.figure(figsize=(1, 1))',
        'open("/tmp/outputs/figure-1.png", "w").write("a file named like a figure")',
      ].join('\n'),
      { artifacts: { ...CAPS, maxCount: 2 } },
    );
    assert.deepEqual(
      raw.artifacts.map((a) => a.name),
      ['figure-1.png', 'figure-2.png'],
    );
    assert.deepEqual(raw.artifactsDropped, { count: 3, names: ['figure-3.png', 'figure-4.png', 'figure-1-2.png'] });
  });

  test('a figure of several MB is drained while the child writes it', async () => {
    const raw = await data(
      [
        'import matplotlib.pyplot as plt, numpy as np',
        'fig = plt.figure(figsize=(12, 12), dpi=150)',
        'plt.imshow(np.random.default_rng(1).random((900, 900, 3)))',
        'plt.show()',
        'print("after show")',
      ].join('\n'),
    );
    assert.equal(raw.stdout.toString(), 'after show\n');
    const png = byName(raw)['figure-1.png']?.data;
    assert.ok(png && png.length > 1 << 20, `a big PNG (${png?.length} bytes)`);
    assert.deepEqual(pngSize(png), [1800, 1800]);
    assert.equal(raw.outputOverflow, false);
  });

  test('no figures from test-case jobs', async () => {
    const raw = await data('import matplotlib.pyplot as plt\nplt.plot([1])\nplt.show()\nprint(input())', {
      tests: [{ stdin: 'x\n', time_ms: 5000, memory_mb: 256 }],
    });
    assert.deepEqual(raw.artifacts, []);
    const [slice] = raw.tests;
    assert.equal(slice?.stdout.toString(), 'x\n');
    assert.equal(slice?.report?.exit_code, 0);
  });

  test('cost: a 1,000-point chart against print(1), each in a sandbox acquired in advance', async (t) => {
    const timed = async (code: string) => {
      const sandbox = await runner.acquire(
        { time_ms: 10_000, memory_mb: 256, environment: 'python-data' },
        { jobId: 'artifacts-cost' },
      );
      try {
        const started = performance.now();
        const raw = await sandbox.run({ code, stdin: '', policy: 'standard', artifacts: CAPS });
        const ms = performance.now() - started;
        return { ms, raw };
      } finally {
        await sandbox.dispose();
      }
    };
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const rounds = 5;
    const chart: number[] = [];
    const plain: number[] = [];
    let pngBytes = 0;
    for (let i = 0; i < rounds; i++) {
      const c = await timed(CHART);
      pngBytes = c.raw.artifacts[0]?.data.length ?? 0;
      chart.push(c.ms);
      plain.push((await timed('print(1)')).ms);
    }
    t.diagnostic(
      `python-data, warm: chart median ${median(chart).toFixed(0)} ms (${chart.map((m) => m.toFixed(0)).join(', ')}; PNG ${pngBytes} B), print(1) median ${median(plain).toFixed(0)} ms (${plain.map((m) => m.toFixed(0)).join(', ')})`,
    );
    assert.ok(pngBytes > 0);
  });
});
