import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { generateWebhookSecret, verifyWebhook } from '@sbx/webhooks';
import { eventually, pollJob } from '../support/poll.js';
import { run, type Stack, startStack } from '../support/stack.js';
import { newApiKey, type TenantsFile, tenantEntry, writeTenantsFile } from '../support/tenants-file.js';

interface Delivery {
  id: string;
  valid: boolean;
  body: { type: string; data: { id: string; status: string; stdout: string } };
}

/** A real receiver on loopback that verifies every signature; fails the first `failures` requests. */
async function receiver(secret: string, failures: number) {
  const deliveries: Delivery[] = [];
  let seen = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString();
      deliveries.push({
        id: String(req.headers['webhook-id']),
        valid: verifyWebhook(secret, req.headers, raw),
        body: JSON.parse(raw),
      });
      seen += 1;
      res.writeHead(seen <= failures ? 500 : 204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { deliveries, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, server };
}

describe('job webhooks, end to end', () => {
  const secret = generateWebhookSecret();
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      env: {
        SBX_WEBHOOK_SECRET: secret,
        SBX_WEBHOOK_ALLOWLIST: '127.0.0.0/8',
        SBX_WEBHOOK_BASE_DELAY_MS: '50',
        SBX_SELF_CHECK: 'off',
      },
    });
  });
  after(async () => {
    await stack.stop();
  });

  test('a receiver that fails twice gets one logical delivery, signed, same webhook-id; redeliver sends a new one', async () => {
    const hook = await receiver(secret, 2);
    try {
      const result = await run(stack.app, { code: 'print("graded")', callback_url: hook.url });
      assert.ok(await eventually(() => hook.deliveries.length >= 3, 15_000), `deliveries: ${hook.deliveries.length}`);
      assert.ok(
        hook.deliveries.every((d) => d.valid),
        'every attempt carries a valid signature',
      );
      assert.equal(new Set(hook.deliveries.map((d) => d.id)).size, 1, 'one webhook-id across retries');
      const body = hook.deliveries[2]?.body;
      assert.equal(body?.type, 'job.completed');
      assert.equal(body?.data.id, result.id);
      assert.equal(body?.data.stdout, 'graded\n');
      const view = await pollJob(stack.app, result.id, (v) => v.webhook?.state === 'delivered', 5000);
      assert.equal(view.webhook?.state, 'delivered');
      assert.equal(view.webhook?.attempts, 3);
      const attempts = (await stack.worker?.metrics.webhookAttempts.get())?.values ?? [];
      const counted = (result: string) => attempts.find((v) => v.labels.result === result)?.value ?? 0;
      assert.deepEqual([counted('http_status'), counted('delivered')], [2, 1], 'attempts counted by result');

      const again = await stack.app.inject({ method: 'POST', url: `/jobs/${result.id}/webhook/redeliver` });
      assert.equal(again.statusCode, 202);
      assert.ok(await eventually(() => hook.deliveries.length >= 4, 10_000));
      assert.notEqual(hook.deliveries[3]?.id, hook.deliveries[0]?.id, 'a redelivery is a new message');
      assert.ok(hook.deliveries[3]?.valid);
    } finally {
      hook.server.close();
    }
  });

  test('a bad callback_url is a 400; redeliver of a job without a webhook is a 404', async () => {
    const bad = await stack.app.inject({
      method: 'POST',
      url: '/jobs',
      payload: { code: 'print(1)', callback_url: 'ftp://example.com/x' },
    });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().message, /callback_url must be an http\(s\) URL/);
    const plain = await run(stack.app, { code: 'print(1)' });
    const res = await stack.app.inject({ method: 'POST', url: `/jobs/${plain.id}/webhook/redeliver` });
    assert.equal(res.statusCode, 404);
    assert.match(res.json().message, /has no webhook delivery/);
  });
});

describe('job webhooks: SSRF guard and configuration', () => {
  const secret = generateWebhookSecret();
  let stack: Stack;
  before(async () => {
    // No allowlist: loopback is a forbidden target like any private address.
    stack = await startStack({ env: { SBX_WEBHOOK_SECRET: secret, SBX_SELF_CHECK: 'off' } });
  });
  after(async () => {
    await stack.stop();
  });

  test('a loopback target that is not allowlisted is refused at delivery time, with no request made', async () => {
    const hook = await receiver(secret, 0);
    try {
      const result = await run(stack.app, { code: 'print(1)', callback_url: hook.url });
      const view = await pollJob(stack.app, result.id, (v) => v.webhook?.state === 'failed', 10_000);
      assert.equal(view.webhook?.state, 'failed');
      assert.match(view.webhook?.last_error ?? '', /forbidden_address|loopback/);
      assert.equal(hook.deliveries.length, 0);
    } finally {
      hook.server.close();
    }
  });

  test('without a signing secret, callback_url is refused', async () => {
    const plain = await startStack({ worker: false });
    try {
      const res = await plain.app.inject({
        method: 'POST',
        url: '/jobs',
        payload: { code: 'print(1)', callback_url: 'https://example.com/hook' },
      });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().code, 'webhooks_not_configured');
    } finally {
      await plain.stop();
    }
  });
});

describe("job webhooks: signed with the tenant's own secret", () => {
  const serverSecret = generateWebhookSecret();
  const tenantSecret = generateWebhookSecret();
  const apiKey = newApiKey();
  let tenants: TenantsFile;
  let stack: Stack;
  before(async () => {
    tenants = await writeTenantsFile([tenantEntry('acme', apiKey, { webhook_secret: tenantSecret })]);
    stack = await startStack({
      env: {
        SBX_WEBHOOK_SECRET: serverSecret,
        SBX_WEBHOOK_ALLOWLIST: '127.0.0.0/8',
        SBX_TENANTS_FILE: tenants.path,
        SBX_SELF_CHECK: 'off',
      },
    });
  });
  after(async () => {
    await stack.stop();
    await tenants.remove();
  });

  test('the receiver verifies with the tenant secret, not the server one', async () => {
    const hook = await receiver(tenantSecret, 0);
    try {
      const res = await stack.app.inject({
        method: 'POST',
        url: '/run',
        headers: { authorization: `Bearer ${apiKey}` },
        payload: { code: 'print("acme")', callback_url: hook.url },
      });
      assert.equal(res.statusCode, 200);
      assert.ok(await eventually(() => hook.deliveries.length >= 1, 10_000));
      assert.equal(hook.deliveries[0]?.valid, true, 'valid under the tenant secret');
    } finally {
      hook.server.close();
    }
  });
});
