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
  // Recording rules (level:metric:ops) are Prometheus's own names: each must be recorded in recording.yml.
  const recording = await readFile(new URL('../../infra/prometheus/recording.yml', import.meta.url), 'utf8');
  const recorded = new Set([...recording.matchAll(/record: (\S+)/g)].map((m) => m[1]));
  const used = new Set<string>();
  for (const panel of dashboard.panels)
    for (const target of panel.targets) {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, resolved by Grafana.
      assert.equal(target.datasource.uid, '${datasource}');
      for (const [name] of target.expr.matchAll(/[a-z0-9_:]*sbx[a-z0-9_:]*/g))
        if (name.includes(':')) assert.ok(recorded.has(name), `${name} is a recording rule`);
        else used.add(name.replace(/_(bucket|sum|count)$/, ''));
    }
  assert.ok(used.size >= 5);
  for (const name of used) assert.ok(exported.has(name), `${name} is exported`);
});
