import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { serveMetrics } from '@sbx/shared';
import { type Stack, startStack } from '../support/stack.js';

describe('API metrics', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ worker: false });
  });
  after(async () => {
    await stack.stop();
  });

  /** Observation count of one label set of the request histogram. */
  const requests = async (labels: Record<'method' | 'route' | 'status_code', string | number>) => {
    const metric = await stack.app.metrics.requests.get();
    const count = metric.values.find(
      (v) =>
        v.metricName === 'sbx_http_request_duration_seconds_count' &&
        (['method', 'route', 'status_code'] as const).every((k) => String(v.labels[k]) === String(labels[k])),
    );
    return count?.value ?? 0;
  };
  const errors = async (code: string) =>
    (await stack.app.metrics.errors.get()).values.find((v) => v.labels.code === code)?.value ?? 0;

  test('requests are counted by route pattern and status, errors by their stable code', async () => {
    const missing = await stack.app.inject({ method: 'GET', url: '/jobs/no-such-job' });
    assert.equal(missing.statusCode, 404);
    const invalid = await stack.app.inject({ method: 'POST', url: '/jobs', payload: { code: 1 } });
    assert.equal(invalid.statusCode, 400);
    const accepted = await stack.app.inject({ method: 'POST', url: '/jobs', payload: { code: 'print(1)' } });
    assert.equal(accepted.statusCode, 202);
    await stack.app.inject({ method: 'GET', url: '/no/such/route/123' });

    assert.equal(await requests({ method: 'GET', route: '/jobs/:id', status_code: 404 }), 1, 'the pattern, not the id');
    assert.equal(await requests({ method: 'POST', route: '/jobs', status_code: 400 }), 1);
    assert.equal(await requests({ method: 'POST', route: '/jobs', status_code: 202 }), 1);
    assert.equal(
      await requests({ method: 'GET', route: 'unmatched', status_code: 404 }),
      1,
      'raw URLs never become labels',
    );
    assert.equal(await errors('not_found'), 2);
    assert.equal(await errors('validation_failed'), 1);
  });

  test('/metrics is served on its own listener, nothing else is', async () => {
    const server = await serveMetrics(stack.app.metrics.registry, 0);
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const res = await fetch(`${base}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
      const body = await res.text();
      assert.match(body, /^sbx_http_request_duration_seconds_bucket\{/m);
      assert.match(body, /^sbx_api_process_cpu_seconds_total /m);
      assert.equal((await fetch(`${base}/jobs`)).status, 404);
    } finally {
      server.close();
    }
    const api = await stack.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(api.statusCode, 404, 'the public API port does not expose metrics');
  });
});
