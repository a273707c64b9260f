import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RunResult, ServiceInfo } from '@sbx/shared';
import { assertMemoryCalibration } from '../support/python-data-memory.js';
import { run, type Stack, startStack } from '../support/stack.js';
import { newApiKey, type TenantsFile, tenantEntry, writeTenantsFile } from '../support/tenants-file.js';

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const keys = { owner: newApiKey(), other: newApiKey() };

/**
 * The python-data environment through the real stack: its own image with numpy, pandas and
 * matplotlib preloaded by the supervisor, its memory limit counted on top of those libraries.
 */
describe('python-data: a preloaded numpy, pandas and matplotlib environment', () => {
  let stack: Stack;
  const data = (code: string, extra: Record<string, unknown> = {}) =>
    run(stack.app, { code, environment: 'python-data', ...extra });

  before(async () => {
    stack = await startStack({ env: { SBX_ENVIRONMENTS: 'python,python-data' } });
  });
  after(async () => {
    await stack.stop();
  });

  test('GET /info lists both environments, with the versions the worker found in each image', async () => {
    const info = (await stack.app.inject({ method: 'GET', url: '/info' })).json() as ServiceInfo;
    const byName = Object.fromEntries(info.environments.map((e) => [e.name, e]));
    assert.deepEqual(Object.keys(byName).sort(), ['python', 'python-data']);
    assert.equal(byName.python?.default, true);
    assert.equal(byName['python-data']?.default, false);
    assert.match(byName.python?.versions?.python ?? '', /^3\.11\./);
    const versions = byName['python-data']?.versions ?? {};
    for (const lib of ['python', 'numpy', 'pandas', 'matplotlib']) assert.match(versions[lib] ?? '', /^\d+\.\d+/, lib);
    assert.equal(byName['python-data']?.workers, 1);
  });

  test('the libraries are loaded before the program starts: importing them is a dictionary lookup', async () => {
    const r = await data(
      [
        'import sys',
        'before = all(m in sys.modules for m in ("numpy", "pandas", "matplotlib.pyplot"))',
        'import numpy as np, pandas as pd, matplotlib.pyplot as plt',
        'print(before, plt.get_backend(), int(np.arange(5).sum()), len(pd.DataFrame({"a": [1, 2]})))',
      ].join('\n'),
      // The strict profile refuses sys.modules itself; what strict programs may import is the hostile corpus's.
      { policy: 'standard' },
    );
    assert.equal(r.status, 'ok', r.stderr);
    assert.equal(r.stdout, 'True agg 10 2\n');
    assert.equal(r.environment, 'python-data');
  });

  test("cpu_time is the program's own: not what its child was charged while it waited for the job", async () => {
    // gVisor charges a waiting python-data child CPU time (0.9 s by its first job, 3.6 s after two
    // idle minutes); counted from the fork, that made any program on an idle sandbox a `timeout`.
    const r = await data('print(1)');
    assert.equal(r.status, 'ok', r.message);
    assert.ok(r.cpu_time < 0.5, `print(1) was charged ${r.cpu_time} s of CPU`);
  });

  test('memory is what the program allocates on top of the libraries: 100 MB fits in 128, 150 MB does not', async () => {
    await assertMemoryCalibration(data);
  });

  test('the python environment has none of them', async () => {
    const r = await run(stack.app, { code: 'import numpy' });
    assert.equal(r.status, 'runtime_error');
    assert.match(r.stderr, /ModuleNotFoundError: No module named 'numpy'/);
    assert.equal(r.environment, 'python');
  });

  test('an unknown environment is a 400 environment_not_available naming those there are', async () => {
    const res = await stack.app.inject({ method: 'POST', url: '/jobs', payload: { code: '1', environment: 'ruby' } });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'environment_not_available');
    assert.deepEqual(res.json().details.available, ['python', 'python-data']);
  });
});

describe('artifacts: figures and output files come back with the result, and by their own route', () => {
  let stack: Stack;
  let tenants: TenantsFile;
  const as = (who: keyof typeof keys) => ({ authorization: `Bearer ${keys[who]}` });
  const runAs = async (who: keyof typeof keys, payload: Record<string, unknown>): Promise<RunResult> => {
    const res = await stack.app.inject({
      method: 'POST',
      url: '/run',
      headers: as(who),
      payload: { environment: 'python-data', ...payload },
    });
    assert.equal(res.statusCode, 200, res.body);
    return res.json();
  };
  before(async () => {
    tenants = await writeTenantsFile([tenantEntry('owner', keys.owner), tenantEntry('other', keys.other)]);
    stack = await startStack({
      env: { SBX_ENVIRONMENTS: 'python,python-data', SBX_TENANTS_FILE: tenants.path, SBX_MAX_ARTIFACTS: '3' },
    });
  });
  after(async () => {
    await stack.stop();
    await tenants.remove();
  });

  test('a figure left open is a PNG artifact, served raw by GET /jobs/:id/artifacts/:name to its tenant only', async () => {
    const r = await runAs('owner', {
      code: 'import matplotlib.pyplot as plt\nimport numpy as np\nx = np.linspace(0, 1, 1000)\nplt.plot(x, x**2)',
    });
    assert.equal(r.status, 'ok', r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, '', 'artifacts are not output');
    const [figure, ...rest] = r.artifacts ?? [];
    assert.deepEqual(rest, []);
    assert.equal(figure?.name, 'figure-1.png');
    assert.equal(figure?.mime, 'image/png');
    const bytes = Buffer.from(figure?.data ?? '', 'base64');
    assert.ok(bytes.subarray(0, 8).equals(PNG), 'a PNG');
    assert.equal(figure?.bytes, bytes.length);
    assert.equal(figure?.url, `/jobs/${r.id}/artifacts/figure-1.png`);

    const raw = await stack.app.inject({ method: 'GET', url: figure?.url ?? '', headers: as('owner') });
    assert.equal(raw.statusCode, 200);
    assert.equal(raw.headers['content-type'], 'image/png');
    assert.match(String(raw.headers['content-security-policy']), /sandbox/);
    assert.ok(raw.rawPayload.equals(bytes), 'the same bytes');
    const theirs = await stack.app.inject({ method: 'GET', url: figure?.url ?? '', headers: as('other') });
    assert.equal(theirs.statusCode, 404);
    const missing = await stack.app.inject({
      method: 'GET',
      url: `/jobs/${r.id}/artifacts/figure-9.png`,
      headers: as('owner'),
    });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().code, 'not_found');
  });

  test('plt.show() emits and closes; SVG on request; files under /tmp/outputs in the standard profile', async () => {
    const r = await runAs('owner', {
      policy: 'standard',
      figure_format: 'svg',
      code: [
        'import matplotlib.pyplot as plt',
        'plt.plot([1, 2]); plt.show()',
        'plt.bar(["a"], [3])',
        'import os',
        'os.makedirs("/tmp/outputs/data")',
        'open("/tmp/outputs/data/t.csv", "w").write("a,b\\n1,2\\n")',
      ].join('\n'),
    });
    assert.equal(r.status, 'ok', r.stderr);
    assert.deepEqual(
      r.artifacts?.map((a) => [a.name, a.mime]),
      [
        ['figure-1.svg', 'image/svg+xml'],
        ['figure-2.svg', 'image/svg+xml'],
        ['data/t.csv', 'text/csv'],
      ],
    );
    assert.match(Buffer.from(r.artifacts?.[0]?.data ?? '', 'base64').toString(), /<svg/);
    assert.equal(Buffer.from(r.artifacts?.[2]?.data ?? '', 'base64').toString(), 'a,b\n1,2\n');
    const csv = await stack.app.inject({ method: 'GET', url: r.artifacts?.[2]?.url ?? '', headers: as('owner') });
    assert.equal(csv.body, 'a,b\n1,2\n');
  });

  test('past SBX_MAX_ARTIFACTS the result is output_limit, keeps what fit and names what was dropped', async () => {
    const r = await runAs('owner', {
      code: 'import matplotlib.pyplot as plt\nfor i in range(5):\n    plt.figure(); plt.plot([i])',
    });
    assert.equal(r.status, 'output_limit');
    assert.deepEqual(
      r.artifacts?.map((a) => a.name),
      ['figure-1.png', 'figure-2.png', 'figure-3.png'],
    );
    assert.match(r.message ?? '', /2 artifacts? dropped/);
    assert.match(r.message ?? '', /figure-4\.png/);
  });

  test('test-case jobs collect no artifacts: their tests are judged on stdout', async () => {
    const r = await runAs('owner', {
      code: 'import matplotlib.pyplot as plt\nplt.plot([1])\nprint(input())',
      tests: [{ stdin: 'x', expected_output: 'x' }],
    });
    assert.equal(r.status, 'ok');
    assert.equal(r.summary?.passed, 1);
    assert.equal(r.artifacts, undefined);
  });
});

describe('python-data with the policy layer off: the same memory calibration (RLIMIT_AS is the harness, not the layer)', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ env: { SBX_ENVIRONMENTS: 'python,python-data', SBX_POLICY_LAYER: 'off' } });
  });
  after(async () => {
    await stack.stop();
  });

  test('the same calibration holds', async () => {
    await assertMemoryCalibration((code) => run(stack.app, { code, environment: 'python-data' }));
  });
});

describe('python-data not served', () => {
  test('an environment the server does not serve is refused, and nothing is queued', async () => {
    const stack = await startStack({ env: { SBX_ENVIRONMENTS: 'python' }, worker: false });
    try {
      const res = await stack.app.inject({
        method: 'POST',
        url: '/run',
        payload: { code: 'print(1)', environment: 'python-data' },
      });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().code, 'environment_not_available');
      const counts = await stack.app.queue.getJobCounts();
      assert.equal(
        Object.values(counts).reduce((a, b) => a + b, 0),
        0,
        'nothing queued',
      );
    } finally {
      await stack.stop();
    }
  });

  test('one served in config but whose image no live worker has is refused too', async () => {
    const stack = await startStack({
      env: { SBX_ENVIRONMENTS: 'python,python-data', SBX_SANDBOX_IMAGE_PYTHON_DATA: 'sbx-python-data:never-built' },
    });
    try {
      const res = await stack.app.inject({
        method: 'POST',
        url: '/jobs',
        payload: { code: 'print(1)', environment: 'python-data' },
      });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().code, 'environment_not_available');
      assert.match(res.json().message, /not built on any live worker/);
      const info = (await stack.app.inject({ method: 'GET', url: '/info' })).json() as ServiceInfo;
      assert.equal(info.environments.find((e) => e.name === 'python-data')?.workers, 0);
      const ok = await run(stack.app, { code: 'print(1)' });
      assert.equal(ok.status, 'ok', 'the environments it has still run');
    } finally {
      await stack.stop();
    }
  });
});
