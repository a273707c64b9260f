import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { createApiMetrics } from '@sbx/api/metrics';
import { createWorkerMetrics } from '@sbx/worker';

test('every metric the Grafana dashboard queries is one the worker or the API exports', async () => {
  const dashboard = JSON.parse(
    await readFile(new URL('../../infra/grafana/provisioning/dashboards/sbx-overview.json', import.meta.url), 'utf8'),
  );
  assert.equal(dashboard.uid, 'sbx-overview');
  const exported = new Set<string>();
  for (const { registry } of [createWorkerMetrics(), createApiMetrics()])
    for (const m of await registry.getMetricsAsJSON()) exported.add(m.name);
  const used = new Set<string>();
  for (const panel of dashboard.panels)
    for (const target of panel.targets) {
      assert.equal(target.datasource.uid, 'sbx-prometheus');
      for (const [name] of target.expr.matchAll(/sbx_[a-z_]+/g)) used.add(name.replace(/_(bucket|sum|count)$/, ''));
    }
  assert.ok(used.size >= 5);
  for (const name of used) assert.ok(exported.has(name), `${name} is exported`);
});
