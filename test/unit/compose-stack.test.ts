import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';

// What a host with a registry runs, checked here with the real tools of each part: docker-compose 1.29
// (Debian's) parses and interpolates the file, promtool loads Prometheus's config with its rule files
// as the container will see them, amtool loads Alertmanager's. Pulling images is out of reach here.
const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const read = async (path: string): Promise<unknown> => parse(await readFile(`${root}${path}`, 'utf8'));

interface Service {
  image?: string;
  volumes?: string[];
  command?: string[];
  healthcheck?: { test?: string[] };
  depends_on?: string[] | Record<string, { condition?: string }>;
}
const services = async () => ((await read('docker-compose.yml')) as { services: Record<string, Service> }).services;

test('docker-compose 1.29 accepts the file, and refuses to expose the API without keys', async () => {
  await run('docker-compose', ['config', '--quiet'], { cwd: root, env: { ...process.env, SBX_API_KEYS: 'k' } });
  const { SBX_API_KEYS: _dropped, ...env } = process.env;
  await assert.rejects(run('docker-compose', ['config', '--quiet'], { cwd: root, env }), /SBX_API_KEYS/);
});

test('every service has a health check; the apps wait for a healthy Redis', async () => {
  const all = await services();
  for (const [name, service] of Object.entries(all)) {
    assert.ok(service.healthcheck?.test?.length, `${name} has a health check`);
  }
  for (const name of ['api', 'worker'])
    assert.deepEqual(all[name]?.depends_on, { redis: { condition: 'service_healthy' } }, `${name} waits for Redis`);
});

test("compose's Prometheus loads the alert and recording rules, and sends alerts to compose's Alertmanager", async () => {
  const prometheus = (await services()).prometheus;
  assert.ok(prometheus?.volumes?.includes('./infra/prometheus:/etc/prometheus:ro'), 'the rules folder is mounted');
  assert.ok(prometheus?.command?.includes('--config.file=/etc/prometheus/prometheus.yml'));
  const config = (await read('infra/prometheus/prometheus.yml')) as {
    rule_files?: string[];
    alerting?: { alertmanagers?: { static_configs?: { targets?: string[] }[] }[] };
  };
  // Relative names resolve beside prometheus.yml, so the same file works mounted and from the checkout.
  for (const file of config.rule_files ?? []) assert.ok(!file.startsWith('/'), `${file} is relative`);
  assert.ok((config.rule_files ?? []).length >= 2, 'alert and recording rule files are named');
  const targets = config.alerting?.alertmanagers?.flatMap((a) => a.static_configs?.flatMap((s) => s.targets ?? []));
  assert.deepEqual(targets, ['alertmanager:9093']);
  // promtool check config fails on a rule file it cannot load or parse.
  const { stdout } = await run('promtool', ['check', 'config', 'infra/prometheus/prometheus.yml'], { cwd: root });
  assert.match(stdout, /SUCCESS/);
});

test("Alertmanager's config loads, and its inhibit rules name alerts that exist", async () => {
  await run('amtool', ['check-config', 'infra/alertmanager/alertmanager.yml'], { cwd: root });
  const config = (await read('infra/prometheus/prometheus.yml')) as { rule_files?: string[] };
  const alerts = new Set<string>();
  for (const file of config.rule_files ?? []) {
    const rules = (await read(`infra/prometheus/${file}`)) as { groups: { rules: { alert?: string }[] }[] };
    for (const rule of rules.groups.flatMap((g) => g.rules)) if (rule.alert) alerts.add(rule.alert);
  }
  const am = (await read('infra/alertmanager/alertmanager.yml')) as {
    inhibit_rules: { source_matchers: string[]; target_matchers: string[] }[];
  };
  for (const rule of am.inhibit_rules)
    for (const matcher of [...rule.source_matchers, ...rule.target_matchers]) {
      const names = /^alertname=~?"(.+)"$/.exec(matcher)?.[1]?.split('|') ?? [];
      assert.ok(names.length > 0, `${matcher} matches on alertname`);
      for (const name of names) assert.ok(alerts.has(name), `${name} (inhibit rule) is an alert`);
    }
});
