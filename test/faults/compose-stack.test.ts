import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pollUntil } from '../support/poll.js';
import { freePort } from '../support/ports.js';

// docker-compose.yml as a registry host runs it, on Debian's docker-compose 1.29, with only the images
// swapped for local builds (infra/compose/local-images.yml): its services, network, health checks,
// restart policy, the Prometheus rules mount and Alertmanager all run for real. Grafana is not started.
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const exec = promisify(execFile);
const SERVICES = ['redis', 'api', 'worker', 'prometheus', 'alertmanager'] as const;

describe('docker-compose.yml on local images', () => {
  const project = `sbxcompose${randomBytes(3).toString('hex')}`;
  const key = randomBytes(12).toString('hex');
  const ports = { api: 0, prometheus: 0, alertmanager: 0 };
  let env: NodeJS.ProcessEnv;
  const compose = (...args: string[]) =>
    exec(
      'docker-compose',
      ['-p', project, '-f', 'docker-compose.yml', '-f', 'infra/compose/local-images.yml', ...args],
      {
        cwd: ROOT,
        env,
        timeout: 180_000,
      },
    );
  const container = (service: string) => `${project}_${service}_1`;
  const inspect = async (service: string) => {
    const { stdout } = await exec('docker', [
      'inspect',
      '--format',
      '{{.State.Health.Status}} {{.RestartCount}} {{.State.Pid}}',
      container(service),
    ]);
    const [health = '', restarts = '0', pid = '0'] = stdout.trim().split(' ');
    return { health, restarts: Number(restarts), pid: Number(pid) };
  };
  const allHealthy = async () => (await Promise.all(SERVICES.map(inspect))).every((s) => s.health === 'healthy');
  const getJson = async (url: string, init?: RequestInit) => {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const runJob = () =>
    getJson(`http://127.0.0.1:${ports.api}/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ code: 'print(6 * 7)' }),
    });

  before(async () => {
    await exec('bash', ['infra/compose/build-local-images.sh'], { cwd: ROOT, timeout: 600_000 });
    for (const name of Object.keys(ports) as (keyof typeof ports)[]) ports[name] = await freePort();
    env = {
      ...process.env,
      SBX_API_KEYS: key,
      API_PUBLISH_PORT: String(ports.api),
      PROMETHEUS_PUBLISH_PORT: String(ports.prometheus),
      ALERTMANAGER_PUBLISH_PORT: String(ports.alertmanager),
    };
    await compose('up', '-d', '--no-build', ...SERVICES);
  });

  after(async () => {
    // Stops the worker with SIGTERM first: it removes its own sandboxes on the way out.
    await compose('down', '-v', '--remove-orphans', '--timeout', '30').catch((err: Error) =>
      console.error(err.message),
    );
  });

  test('every service becomes healthy and a job runs through the published API port', async () => {
    const { settled } = await pollUntil(allHealthy, Boolean, 120_000, 1000);
    const states = await Promise.all(SERVICES.map(async (s) => `${s}: ${(await inspect(s)).health}`));
    assert.ok(settled, `all healthy within 120 s (${states.join(', ')})`);
    const { status, body } = await runJob();
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.status, 'ok');
    assert.equal(body.stdout, '42\n');
  });

  test("Prometheus scrapes both apps, loaded the alert and recording rules, and reaches compose's Alertmanager", async () => {
    const base = `http://127.0.0.1:${ports.prometheus}/api/v1`;
    const targets = await pollUntil(
      async () => {
        const { body } = await getJson(`${base}/targets`);
        const active = (body.data as { activeTargets: { labels: { job: string }; health: string }[] }).activeTargets;
        return active.map((t) => `${t.labels.job}:${t.health}`).sort();
      },
      (seen) => seen.join() === 'sbx-api:up,sbx-worker:up',
      60_000,
      1000,
    );
    assert.deepEqual(targets.value, ['sbx-api:up', 'sbx-worker:up']);
    const { body: rules } = await getJson(`${base}/rules`);
    const all = (rules.data as { groups: { rules: { type: string }[] }[] }).groups.flatMap((g) => g.rules);
    assert.ok(all.filter((r) => r.type === 'alerting').length >= 9, 'the alert rules are loaded');
    assert.ok(
      all.some((r) => r.type === 'recording'),
      'the recording rules are loaded',
    );
    const { body: managers } = await getJson(`${base}/alertmanagers`);
    const urls = (managers.data as { activeAlertmanagers: { url: string }[] }).activeAlertmanagers.map((a) => a.url);
    assert.deepEqual(urls, ['http://alertmanager:9093/api/v2/alerts']);
  });

  test('a worker killed with SIGKILL is restarted by its restart policy and runs jobs again', async () => {
    const before = await inspect('worker');
    assert.ok(before.pid > 0, 'the worker runs');
    process.kill(before.pid, 'SIGKILL');
    const back = await pollUntil(
      () => inspect('worker'),
      (s) => s.restarts > before.restarts && s.health === 'healthy',
      90_000,
      1000,
    );
    assert.ok(back.settled, `restarted and healthy again (${JSON.stringify(back.value)})`);
    // The API's /readyz needs a fresh heartbeat from the new worker before compose calls it healthy again.
    assert.ok((await pollUntil(allHealthy, Boolean, 60_000, 1000)).settled, 'the whole stack is healthy again');
    const { status, body } = await runJob();
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.stdout, '42\n');
    // The restarted worker kept its id (the container's hostname): its warm sandboxes carry it, and
    // any its dead run left were its own to remove at start.
    const { stdout: hostname } = await exec('docker', [
      'inspect',
      '--format',
      '{{.Config.Hostname}}',
      container('worker'),
    ]);
    const { stdout: sandboxes } = await exec('docker', ['ps', '-q', '--filter', `label=sbx.worker=${hostname.trim()}`]);
    assert.ok(sandboxes.trim().length > 0, `sandboxes labelled with worker id ${hostname.trim()}`);
  });
});
