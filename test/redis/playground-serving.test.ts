/**
 * The API serves the playground: the page at / and /playground and its assets under
 * /playground/assets/, with a strict CSP, without a key on a server that has keys, and a clear 404
 * when the page is not built. A small stand-in build in a temp dir: what is checked is the serving,
 * not the page (test/sandbox/playground.test.ts drives the real one in a browser).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { buildApp } from '@sbx/api';
import type { FastifyInstance } from 'fastify';
import { deleteKeys, testConfig } from '../support/stack.js';

const KEY = 'playground-test-key';
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const SCRIPT = 'console.log("playground");\n'.repeat(40);

async function fakeBuild(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sbx-playground-'));
  await mkdir(join(dir, 'assets'));
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>sbx playground</title>');
  await writeFile(join(dir, 'assets', 'playground-abc123.js'), SCRIPT);
  await writeFile(join(dir, 'assets', 'playground-abc123.js.gz'), gzipSync(SCRIPT));
  return dir;
}

function assertPageHeaders(headers: Record<string, unknown>): void {
  assert.equal(headers['content-security-policy'], CSP);
  assert.equal(headers['referrer-policy'], 'no-referrer');
  assert.equal(headers['x-content-type-options'], 'nosniff');
}

describe('the playground, served by the API', () => {
  let app: FastifyInstance;
  let missing: FastifyInstance;
  let dir = '';
  const prefixes: string[] = [];
  before(async () => {
    dir = await fakeBuild();
    const config = testConfig({ SBX_API_KEYS: KEY });
    prefixes.push(config.prefix);
    app = await buildApp(config, { logger: false, playgroundDir: dir });
    const bare = testConfig();
    prefixes.push(bare.prefix);
    missing = await buildApp(bare, { logger: false, playgroundDir: join(dir, 'not-built') });
  });
  after(async () => {
    await app.close();
    await missing.close();
    await rm(dir, { recursive: true, force: true });
    for (const prefix of prefixes) await deleteKeys(prefix);
  });

  test('/ and /playground answer the page, with no key, under the strict CSP', async () => {
    for (const url of ['/', '/playground']) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
      assert.match(String(res.headers['content-type']), /^text\/html; charset=utf-8/);
      assert.match(res.body, /sbx playground/);
      assertPageHeaders(res.headers);
      assert.equal(res.headers['cache-control'], 'no-cache');
    }
    const info = await app.inject({ url: '/info' });
    assert.equal(info.statusCode, 401, 'the API itself still needs the key');
  });

  test('assets: cached for good, gzip for those who take it, the same security headers', async () => {
    const plain = await app.inject({ url: '/playground/assets/playground-abc123.js' });
    assert.equal(plain.statusCode, 200, plain.body);
    assert.match(String(plain.headers['content-type']), /javascript/);
    assert.match(String(plain.headers['cache-control']), /immutable/);
    assertPageHeaders(plain.headers);
    assert.equal(plain.body, SCRIPT);
    const zipped = await app.inject({
      url: '/playground/assets/playground-abc123.js',
      headers: { 'accept-encoding': 'gzip' },
    });
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(zipped.rawPayload).toString(), SCRIPT);
  });

  test('a missing asset, and a path that climbs out of assets/, are our 404', async () => {
    for (const url of ['/playground/assets/nope.js', '/playground/assets/..%2Findex.html']) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 404, `${url}: ${res.body}`);
      assert.equal(res.json().code, 'not_found', res.body);
    }
    const other = await app.inject({ url: '/playground/other' });
    assert.equal(other.statusCode, 401, 'only the page and its assets are public');
    const slash = await app.inject({ url: '/playground/' });
    assert.equal(slash.statusCode, 301);
    assert.equal(slash.headers.location, '../playground');
  });

  test('not built: / is a 404 in the API error shape that says how to build it', async () => {
    const res = await missing.inject({ url: '/' });
    assert.equal(res.statusCode, 404);
    const body = res.json();
    assert.equal(body.code, 'not_found');
    assert.match(body.message, /not built.*pnpm --filter @sbx\/playground build/);
    const post = await missing.inject({ method: 'POST', url: '/', payload: {} });
    assert.equal(post.statusCode, 405);
  });
});
