import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ServiceInfo } from '@sbx/shared';
import { run, type Stack, startStack } from '../support/stack.js';

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
    );
    assert.equal(r.status, 'ok', r.stderr);
    assert.equal(r.stdout, 'True agg 10 2\n');
    assert.equal(r.environment, 'python-data');
  });

  test('memory is what the program allocates on top of the libraries: 100 MB fits in 128, 150 MB does not', async () => {
    const cases: [string, string][] = [
      ['x = bytearray(100 * 2**20)\nprint(len(x))', 'ok'],
      ['import numpy as np\na = np.ones(100 * 2**17)\nprint(a.nbytes)', 'ok'],
      ['x = bytearray(150 * 2**20)\nprint(len(x))', 'memory_limit'],
      ['import numpy as np\na = np.ones(150 * 2**17)\nprint(a.nbytes)', 'memory_limit'],
      ['import numpy as np\na = np.zeros((10**5, 10**5))\na[::1000, ::1000] = 1\nprint(a.sum())', 'memory_limit'],
      ['chunks = []\nwhile True: chunks.append(bytearray(2**20))', 'memory_limit'],
    ];
    for (const [code, status] of cases) {
      const r = await data(code);
      assert.equal(r.status, status, `${code}: ${r.status} ${r.message ?? ''} ${r.stderr.slice(-300)}`);
    }
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
