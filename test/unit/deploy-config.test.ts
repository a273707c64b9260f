import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { ENV_VARS } from '@sbx/shared';
import { parse } from 'yaml';

const read = async (path: string) => parse(await readFile(new URL(`../../${path}`, import.meta.url), 'utf8'));
const known = new Map<string, string | undefined>(ENV_VARS.map((v) => [v.name, v.default]));

interface Service {
  environment?: Record<string, string>;
  ports?: string[];
  restart?: string;
  healthcheck?: { test?: string[] };
}

test('docker-compose.yml names only variables the config knows, and matches its defaults', async () => {
  const compose = (await read('docker-compose.yml')) as { services: Record<string, Service> };
  for (const [name, service] of Object.entries(compose.services))
    for (const variable of Object.keys(service.environment ?? {}))
      if (variable.startsWith('SBX_')) assert.ok(known.has(variable), `${name}: ${variable} is a config variable`);
  const { api, worker } = compose.services;
  assert.deepEqual(api?.ports, [`\${API_PUBLISH_PORT:-${known.get('SBX_API_PORT')}}:${known.get('SBX_API_PORT')}`]);
  // Prometheus runs in its own container: both metrics listeners must leave loopback there.
  assert.equal(api?.environment?.SBX_API_METRICS_HOST, '0.0.0.0');
  assert.equal(worker?.environment?.SBX_WORKER_METRICS_HOST, '0.0.0.0');
});

test('Prometheus scrapes the API and the worker on their default metrics ports', async () => {
  const prometheus = (await read('infra/prometheus/prometheus.yml')) as {
    scrape_configs: { static_configs: { targets: string[] }[] }[];
  };
  const targets = prometheus.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets));
  assert.deepEqual(targets.sort(), [
    `api:${known.get('SBX_API_METRICS_PORT')}`,
    `worker:${known.get('SBX_WORKER_METRICS_PORT')}`,
  ]);
});

test('docker-compose.yml restarts every service, and checks the API on /readyz and the worker on its metrics port', async () => {
  const compose = (await read('docker-compose.yml')) as { services: Record<string, Service> };
  for (const [name, service] of Object.entries(compose.services))
    assert.equal(service.restart, 'unless-stopped', `${name} is restarted`);
  const probe = (s: Service | undefined) => s?.healthcheck?.test?.join(' ') ?? '';
  assert.match(probe(compose.services.api), new RegExp(`127\\.0\\.0\\.1:${known.get('SBX_API_PORT')}/readyz`));
  assert.match(
    probe(compose.services.worker),
    new RegExp(`127\\.0\\.0\\.1:${known.get('SBX_WORKER_METRICS_PORT')}/metrics`),
  );
});
