import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from '../support/ports.js';
import { deleteKeys } from '../support/stack.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const exec = promisify(execFile);

/** The README's first command, as a user runs it: the whole service up, a job through it, and down again. */
describe('Quick start: npm run up, then npm run down', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let port: number;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sbx-up-'));
    port = await freePort();
    env = {
      ...process.env,
      // Its own pidfiles, logs, ports and keys: nothing shared with a service already running here.
      SBX_RUN_DIR: dir,
      SBX_LOG_DIR: dir,
      SBX_API_PORT: String(port),
      SBX_API_METRICS_PORT: String(await freePort()),
      SBX_WORKER_METRICS_PORT: String(await freePort()),
      SBX_PREFIX: `sbxtest-up-${randomBytes(3).toString('hex')}`,
      SBX_API_KEYS: '',
    };
  });
  after(async () => {
    await exec('bash', ['infra/down.sh'], { cwd: ROOT, env }).catch(() => {});
    await rm(dir, { recursive: true, force: true });
    await deleteKeys(String(env.SBX_PREFIX));
  });

  test('up answers ready, runs print(2 + 2), and down stops both processes', async () => {
    const up = await exec('npm', ['run', 'up'], { cwd: ROOT, env, timeout: 300_000 });
    assert.match(up.stdout, new RegExp(`sbx is up: API http://127.0.0.1:${port}`));
    const res = await fetch(`http://127.0.0.1:${port}/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: 'print(2 + 2)' }),
    });
    assert.equal(res.status, 200);
    const result = (await res.json()) as { status: string; stdout: string };
    assert.deepEqual([result.status, result.stdout], ['ok', '4\n']);

    const pids = await Promise.all(
      ['api', 'worker'].map(async (n) => Number(await readFile(join(dir, `${n}.pid`), 'utf8'))),
    );
    const down = await exec('npm', ['run', 'down'], { cwd: ROOT, env, timeout: 60_000 });
    assert.match(down.stdout, /stopped api/);
    assert.match(down.stdout, /stopped worker/);
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), `process ${pid} is gone`);
  });
});
