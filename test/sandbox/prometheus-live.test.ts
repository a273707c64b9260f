/**
 * The alert rules and the Grafana dashboard on live data: a real Prometheus scrapes an API and a
 * worker in their own processes (real Redis, Docker, runsc) every second and evaluates the
 * repository's rule files, unchanged, every second. After a workload that moves every metric the
 * dashboard reads, each panel's query must return data; then the worker is stopped and
 * SbxNoReadyWorker must go pending, then firing, and resolve once the worker is back.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { generateWebhookSecret } from '@sbx/webhooks';
import { pollUntil, sleep } from '../support/poll.js';
import { freePort } from '../support/ports.js';
import { type ActiveAlert, type Prometheus, startPrometheus } from '../support/prometheus.js';
import { deleteKeys, REDIS_URL } from '../support/stack.js';
import { spawnApi, spawnWorker, stopWorker } from '../support/worker-process.js';

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, resolved by Grafana.
const DATASOURCE_VAR = '${datasource}';
/** How long SbxNoReadyWorker must hold before it fires (its `for` in alerts.yml), plus evaluation slack. */
const FIRING_WITHIN_MS = 100_000;

interface Panel {
  title: string;
  targets: { refId: string; expr: string; datasource?: { uid?: string } }[];
}

/** A webhook receiver on loopback answering every delivery with `status`. */
async function receiver(status: number): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(status).end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook` };
}

/**
 * Grafana's own variables in an expr, as Grafana would fill them in for a 1 h range: the panels use
 * fixed windows today, and this keeps the test honest if one starts using these.
 */
const resolveGrafanaVariables = (expr: string) =>
  expr.replaceAll('$__rate_interval', '5m').replaceAll('$__interval', '1m').replaceAll('$__range', '1h');

describe('Prometheus on a live stack: dashboard queries and a real alert', () => {
  const prefix = `sbxtest-${randomBytes(4).toString('hex')}`;
  const secret = generateWebhookSecret();
  const common = {
    SBX_REDIS_URL: REDIS_URL,
    SBX_PREFIX: prefix,
    SBX_QUEUE: 'runs',
    SBX_ENVIRONMENTS: 'python',
    SBX_WEBHOOK_SECRET: secret,
    SBX_WEBHOOK_ALLOWLIST: '127.0.0.0/8',
    // A stopped worker's heartbeat is gone at once (it removes it); a killed one's within 3 s.
    SBX_HEARTBEAT_MS: '500',
    SBX_WORKER_STALE_MS: '3000',
    SBX_LOG_LEVEL: 'warn',
    // The canaries cost a restart tens of seconds on a loaded machine; sbx_self_check_ok reads 1 either way.
    SBX_SELF_CHECK: 'off',
  };
  /** The worker's errors, shown with the test's output: the verdicts and counters depend on its runs. */
  const workerErrors = (line: string) => {
    if (/"level":(4|5|6)0/.test(line)) console.log(`worker: ${line.slice(0, 400)}`);
  };
  let apiPort = 0;
  let workerEnv: Record<string, string> = {};
  let api: ChildProcess | null = null;
  let worker: ChildProcess | null = null;
  let prometheus: Prometheus | null = null;
  const receivers: Server[] = [];

  const base = () => `http://127.0.0.1:${apiPort}`;
  const post = (path: string, body: unknown) =>
    fetch(`${base()}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });

  before(async () => {
    apiPort = await freePort();
    const apiMetricsPort = await freePort();
    const workerMetricsPort = await freePort();
    workerEnv = {
      ...common,
      SBX_WORKER_ID: `prom-${randomBytes(3).toString('hex')}`,
      SBX_WORKER_METRICS_PORT: String(workerMetricsPort),
      SBX_WORKER_CONCURRENCY: '2',
      // The warm pool on, so its gauges and hit counter move.
      SBX_POOL_MIN: '2',
      SBX_POOL_MAX: '4',
      // Two interactive starts in a row while batch work waits promote the batch job due next.
      SBX_INTERACTIVE_STREAK: '2',
      SBX_WEBHOOK_MAX_ATTEMPTS: '2',
      SBX_WEBHOOK_BASE_DELAY_MS: '50',
    };
    worker = await spawnWorker(workerEnv, workerErrors);
    api = await spawnApi({
      ...common,
      SBX_API_HOST: '127.0.0.1',
      SBX_API_PORT: String(apiPort),
      SBX_API_METRICS_PORT: String(apiMetricsPort),
      SBX_RATE_PER_MINUTE: '100000',
      SBX_INTERACTIVE_STREAK: '2',
    });
    prometheus = await startPrometheus([
      { job: 'sbx-api', targets: [`127.0.0.1:${apiMetricsPort}`] },
      { job: 'sbx-worker', targets: [`127.0.0.1:${workerMetricsPort}`] },
    ]);
  });

  after(async () => {
    await prometheus?.stop();
    if (worker) await stopWorker(worker);
    if (api) await stopWorker(api);
    for (const server of receivers) server.close();
    await deleteKeys(prefix);
  });

  test('after a workload touching every metric, every dashboard panel query returns data', async () => {
    const prom = prometheus as Prometheus;
    const started = Date.now();
    const { value: targets } = await pollUntil(
      () => prom.targets(),
      (ts) => ts.length === 2 && ts.every((t) => t.health === 'up'),
      15_000,
      250,
    );
    assert.deepEqual(
      targets.map((t) => [t.job, t.health, t.lastError]).sort(),
      [
        ['sbx-api', 'up', ''],
        ['sbx-worker', 'up', ''],
      ],
      'both targets scraped',
    );

    const delivered = await receiver(204);
    const refused = await receiver(500);
    receivers.push(delivered.server, refused.server);

    // Batch promotion: two sleepers hold both slots while batch work, then more interactive work, queue up.
    const sleeper = { code: 'import time\ntime.sleep(2)\nprint("slept")', lane: 'interactive' };
    const queued: Response[] = [];
    for (let i = 0; i < 2; i++) queued.push(await post('/jobs', sleeper));
    await sleep(300);
    for (let i = 0; i < 2; i++) queued.push(await post('/jobs', { code: `print(${i})`, lane: 'batch' }));
    for (let i = 0; i < 4; i++) queued.push(await post('/jobs', { code: `print(${i})`, lane: 'interactive' }));
    // Webhooks: one receiver takes them, one refuses them (attempted twice, then failed).
    queued.push(await post('/jobs', { code: 'print("hook")', callback_url: delivered.url }));
    queued.push(await post('/jobs', { code: 'print("hook")', callback_url: refused.url }));
    for (const res of queued) assert.equal(res.status, 202, await res.clone().text());

    // Every verdict the dashboard plots, through POST /run (the interactive lane).
    const verdicts: [string, Record<string, unknown>][] = [
      ['ok', { code: 'print(2 + 2)' }],
      ['timeout', { code: 'while True: pass', limits: { time_ms: 500 } }],
      ['memory_limit', { code: 'x = bytearray(150 * 2**20)\nx[-1] = 1' }],
      ['output_limit', { code: 'import sys\nwhile True: sys.stdout.write("x" * 65536)' }],
      ['runtime_error', { code: 'raise ValueError("on purpose")' }],
    ];
    for (const [status, body] of verdicts) {
      const res = await post('/run', body);
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { status: string }).status, status, `POST /run ${body.code}`);
    }
    // An error answer of the API's own.
    assert.equal((await post('/run', { nothing: true })).status, 400);

    // Prometheus has seen all of it (its scrape is a second behind): each must hold, within the bound.
    const touched = [
      'sbx_runs_total{status="ok"} > 0',
      'sbx_runs_total{status="timeout"} > 0',
      'sbx_runs_total{status="memory_limit"} > 0',
      'sbx_runs_total{status="output_limit"} > 0',
      'sbx_runs_total{status="runtime_error"} > 0',
      'sbx_queue_wait_seconds_count{lane="interactive"} > 0',
      'sbx_queue_wait_seconds_count{lane="batch"} > 0',
      'sbx_batch_promotions_total > 0',
      'sbx_pool_acquires_total{outcome="hit"} > 0',
      'sbx_pool_acquires_total{outcome="miss"} > 0',
      'sbx_pool_target > 0',
      'sbx_webhook_attempts_total{result="delivered"} > 0',
      'sbx_webhook_attempts_total{result="http_status"} >= 2',
      'sbx_api_errors_total{code="validation_failed"} > 0',
      'sbx_http_request_duration_seconds_count{route="/run", status_code="200"} > 0',
      'sbx_queue_depth{lane="batch"} >= 0',
      'sbx_workers{state="ready"} == 1',
      'sbx_api_redis_up == 1',
      'sbx_self_check_ok == 1',
      'sbx_docker_up == 1',
      'sbx_slots_total == 2',
      'sbx_sandbox_runtime_info == 1',
      // The recording rules have caught up too.
      'status:sbx_runs:rate5m{status="memory_limit"} > 0',
      'lane:sbx_queue_wait_seconds:p95_5m{lane="batch"} >= 0',
      'sbx:slots_total:sum == 2',
    ];
    const { value: missing } = await pollUntil(
      async () => {
        const empty: string[] = [];
        for (const expr of touched) if ((await prom.query(expr)).length === 0) empty.push(expr);
        return empty;
      },
      (left) => left.length === 0,
      60_000,
      1000,
    );
    assert.deepEqual(missing, [], 'the workload moved every metric');
    // A few more scrapes and evaluations: a rate needs two samples of what the last scrape first saw.
    await sleep(3000);

    // The dashboard's queries, as Grafana would send them to the datasource its variable selects.
    const dashboard = JSON.parse(
      await readFile(new URL('../../infra/grafana/provisioning/dashboards/sbx-overview.json', import.meta.url), 'utf8'),
    ) as { panels: Panel[]; templating: { list: { name: string; type: string; query: string }[] } };
    const variable = dashboard.templating.list.find((v) => v.name === 'datasource');
    assert.deepEqual([variable?.type, variable?.query], ['datasource', 'prometheus'], 'the variable picks Prometheus');
    const empty: string[] = [];
    let queries = 0;
    for (const panel of dashboard.panels)
      for (const target of panel.targets) {
        assert.equal(target.datasource?.uid, DATASOURCE_VAR, `${panel.title}: the datasource variable`);
        queries += 1;
        const result = await prom.query(resolveGrafanaVariables(target.expr));
        if (result.length === 0) empty.push(`"${panel.title}" ${target.refId}: ${target.expr}`);
      }
    assert.deepEqual(empty, [], 'every panel query returns data');
    assert.ok(queries >= 25, `${queries} queries`);

    // A normal workload pages nobody.
    const firing = (await prom.alerts()).filter((a) => a.state === 'firing').map((a) => a.labels.alertname);
    assert.deepEqual(firing, [], 'no alert fires under a normal workload');
    console.log(`workload and ${queries} panel queries: ${Math.round((Date.now() - started) / 1000)} s`);
  });

  test('the worker stopped: SbxNoReadyWorker goes pending, then firing; back again, it resolves', async () => {
    const prom = prometheus as Prometheus;
    const noReady = async (): Promise<ActiveAlert | null> =>
      (await prom.alerts()).find((a) => a.labels.alertname === 'SbxNoReadyWorker') ?? null;
    assert.equal(await noReady(), null, 'not active while the worker is ready');

    const stopped = Date.now();
    await stopWorker(worker as ChildProcess);
    worker = null;
    const pending = await pollUntil(noReady, (a) => a !== null, 30_000, 250);
    assert.equal(pending.value?.state, 'pending', 'pending first');
    const pendingAfter = Date.now() - stopped;
    assert.equal(pending.value?.labels.severity, 'critical');
    assert.match(pending.value?.annotations.summary ?? '', /No worker is ready/);

    const firing = await pollUntil(noReady, (a) => a?.state === 'firing', FIRING_WITHIN_MS, 500);
    assert.equal(firing.value?.state, 'firing', 'then firing');
    const firingAfter = Date.now() - stopped;
    // Its `for` is 1m: it must not fire sooner than that after it went pending.
    assert.ok(firingAfter - pendingAfter >= 55_000, `fired ${firingAfter - pendingAfter} ms after pending`);
    const series = await prom.query('ALERTS{alertname="SbxNoReadyWorker", alertstate="firing"}');
    assert.equal(series.length, 1, 'the ALERTS series says firing too');

    const restarted = Date.now();
    worker = await spawnWorker(workerEnv, workerErrors);
    const resolved = await pollUntil(noReady, (a) => a === null, 60_000, 250);
    assert.equal(resolved.value, null, 'resolved once the worker is back');
    console.log(
      `SbxNoReadyWorker: pending ${Math.round(pendingAfter / 1000)} s after the stop, firing after ${Math.round(
        firingAfter / 1000,
      )} s, resolved ${Math.round((Date.now() - restarted) / 1000)} s after the restart`,
    );
  });
});
