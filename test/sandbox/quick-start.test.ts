import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pollUntil } from '../support/poll.js';
import { freePort } from '../support/ports.js';
import { deleteKeys } from '../support/stack.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const exec = promisify(execFile);

/** The node process a supervisor (infra/supervise.sh) runs (not the sleep of its backoff). */
async function childOf(supervisor: number): Promise<number> {
  const { stdout } = await exec('pgrep', ['-P', String(supervisor), '-x', 'node']);
  const pid = Number(stdout.trim().split('\n')[0]);
  if (!pid) throw new Error(`no child of ${supervisor}`);
  return pid;
}

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
      SBX_PROMETHEUS_PORT: String(await freePort()),
      SBX_ALERTMANAGER_PORT: String(await freePort()),
      SBX_STATE_DIR: dir,
      SBX_PREFIX: `sbxtest-up-${randomBytes(3).toString('hex')}`,
      SBX_API_KEYS: '',
    };
  });
  after(async () => {
    await exec('bash', ['infra/down.sh'], { cwd: ROOT, env }).catch(() => {});
    await rm(dir, { recursive: true, force: true });
    await deleteKeys(String(env.SBX_PREFIX));
  });

  test('up answers ready, runs print(2 + 2), Prometheus and Alertmanager watch it, and down stops them all', async () => {
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

    // Monitoring came up with it: Prometheus scrapes both, with every rule and the Alertmanager.
    const prometheus = `http://127.0.0.1:${env.SBX_PROMETHEUS_PORT}/api/v1`;
    const getData = async <T>(path: string): Promise<T | null> => {
      const r = await fetch(`${prometheus}/${path}`).catch(() => null);
      return r?.ok ? ((await r.json()) as { data: T }).data : null;
    };
    type Targets = { activeTargets: { labels: { job: string }; health: string }[] };
    const targets = await pollUntil(
      async () => ((await getData<Targets>('targets'))?.activeTargets ?? []).map((t) => `${t.labels.job}:${t.health}`),
      (seen) => seen.sort().join() === 'sbx-api:up,sbx-worker:up',
      40_000,
      500,
    );
    assert.deepEqual(targets.value.sort(), ['sbx-api:up', 'sbx-worker:up']);
    const rules = await getData<{ groups: { rules: { type: string }[] }[] }>('rules');
    assert.ok(
      rules?.groups.flatMap((g) => g.rules).some((r) => r.type === 'alerting'),
      'alert rules loaded',
    );
    const managers = await getData<{ activeAlertmanagers: { url: string }[] }>('alertmanagers');
    assert.deepEqual(
      managers?.activeAlertmanagers.map((a) => a.url),
      [`http://127.0.0.1:${env.SBX_ALERTMANAGER_PORT}/api/v2/alerts`],
    );

    const names = ['api', 'worker', 'prometheus', 'alertmanager'];
    const pids = await Promise.all(names.map(async (n) => Number(await readFile(join(dir, `${n}.pid`), 'utf8'))));
    const children = await Promise.all(pids.slice(0, 2).map(childOf));
    const down = await exec('npm', ['run', 'down'], { cwd: ROOT, env, timeout: 60_000 });
    for (const name of names) assert.match(down.stdout, new RegExp(`stopped ${name}`));
    for (const pid of [...pids, ...children]) assert.throws(() => process.kill(pid, 0), `process ${pid} is gone`);
  });

  test('a worker that dies is started again, says why in its log, and the service is ready again', async () => {
    await exec('npm', ['run', 'up'], { cwd: ROOT, env, timeout: 300_000 });
    const supervisor = Number(await readFile(join(dir, 'worker.pid'), 'utf8'));
    const first = await childOf(supervisor);
    process.kill(first, 'SIGKILL');
    const { value: second } = await pollUntil(
      () => childOf(supervisor).catch(() => 0),
      (pid) => pid > 0 && pid !== first,
      15_000,
      100,
    );
    assert.ok(second > 0 && second !== first, 'a new worker process');
    const ready = await pollUntil(
      () =>
        fetch(`http://127.0.0.1:${port}/readyz`).then(
          (r) => r.status,
          () => 0,
        ),
      (status) => status === 200,
      60_000,
      250,
    );
    assert.equal(ready.value, 200, 'ready again without anyone stepping in');
    const res = await fetch(`http://127.0.0.1:${port}/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: 'print("again")' }),
    });
    assert.equal(((await res.json()) as { stdout: string }).stdout, 'again\n');
    const log = await readFile(join(dir, 'worker.log'), 'utf8');
    assert.match(log, /\[supervise \S+\] worker was killed by signal 9 after \d+s; starting it again in 1s/);
    await exec('npm', ['run', 'down'], { cwd: ROOT, env, timeout: 60_000 });
    for (const pid of [supervisor, second]) assert.throws(() => process.kill(pid, 0), `process ${pid} is gone`);
  });
});
