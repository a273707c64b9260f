import assert from 'node:assert/strict';
import type { RunResult } from '@sbx/shared';

/** What the limit means in python-data, with the policy layer on or off: the harness's RLIMIT_AS holds either way. */
const MEMORY_CASES: [string, string][] = [
  ['x = bytearray(100 * 2**20)\nprint(len(x))', 'ok'],
  ['import numpy as np\na = np.ones(100 * 2**17)\nprint(a.nbytes)', 'ok'],
  ['x = bytearray(150 * 2**20)\nprint(len(x))', 'memory_limit'],
  ['import numpy as np\na = np.ones(150 * 2**17)\nprint(a.nbytes)', 'memory_limit'],
  ['import numpy as np\na = np.zeros((10**5, 10**5))\na[::1000, ::1000] = 1\nprint(a.sum())', 'memory_limit'],
  ['chunks = []\nwhile True: chunks.append(bytearray(2**20))', 'memory_limit'],
];

export async function assertMemoryCalibration(send: (code: string) => Promise<RunResult>): Promise<void> {
  const results = await Promise.all(MEMORY_CASES.map(([code]) => send(code)));
  const wrong = MEMORY_CASES.flatMap(([code, status], i) => {
    const r = results[i];
    return r?.status === status ? [] : [`${code}: ${r?.status} ${r?.message ?? ''} ${r?.stderr.slice(-200)}`];
  });
  assert.deepEqual(wrong, []);
}
