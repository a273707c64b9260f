import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { API_ERRORS, ENV_VARS, RUN_STATUSES } from '@sbx/shared';

/**
 * The README (the front page) and the docs/ pages that hold its reference tables, each checked against
 * the code it describes: the variables (docs/configuration.md), the error codes (docs/api.md), the
 * metrics, alerts and recording rules (docs/operations.md), and every link between them.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFile(`${ROOT}${path}`, 'utf8');
const readme = await read('README.md');

test('docs/configuration.md lists every environment variable, once, with its default and the app that reads it', async () => {
  const doc = await read('docs/configuration.md');
  for (const spec of ENV_VARS) {
    const row = doc.split('\n').find((line) => new RegExp(`^\\|\\s*\`${spec.name}\`\\s*\\|`).test(line));
    assert.ok(row, `${spec.name} is in docs/configuration.md`);
    if (spec.default) assert.ok(row.includes(`\`${spec.default}\``), `${spec.name} default ${spec.default}`);
    assert.equal(row.split('|')[3]?.trim(), spec.readBy, `${spec.name} is read by ${spec.readBy}`);
  }
  const listed = [...doc.matchAll(/^\| `(SBX_\w+)` +\|/gm)].map((m) => m[1]);
  assert.deepEqual(listed.sort(), ENV_VARS.map((v) => v.name).sort());
});

test('the Quick start has exactly two commands, and .ci/run runs the test one', async () => {
  const quick = /## Quick start[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  const commands = quick
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
  assert.deepEqual(commands, ['npm run up', 'npm test']);
  const ci = await read('.ci/run');
  assert.match(ci, /^exec npm test$/m);
});

test("the README's verdicts table has every status, one row each", () => {
  const section = /\n## Verdicts\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
  const rows = [...section.matchAll(/^\| `(\w+)` +\|/gm)].map((m) => m[1]);
  assert.deepEqual(rows, [...RUN_STATUSES]);
});

test('docs/api.md: the error table lists every error code with its status, and no other', async () => {
  const doc = await read('docs/api.md');
  const table = /Errors are `\{ "statusCode", "code", "message" \}`[^\n]*\n\n((?:\|.*\n)+)/.exec(doc)?.[1] ?? '';
  const documented: Record<string, number> = {};
  for (const row of table.split('\n').slice(2)) {
    const [codes, status] = row.split('|').slice(1, 3);
    for (const [, code] of (codes ?? '').matchAll(/`(\w+)`/g)) if (code) documented[code] = Number(status);
  }
  assert.deepEqual(documented, { ...API_ERRORS });
});

/** Every `name: 'sbx_…'` a metric is registered under in apps/, wherever the file lives. */
async function registeredMetrics(): Promise<Set<string>> {
  const names = new Set<string>();
  const files = (await readdir(`${ROOT}apps`, { recursive: true })).filter(
    (f) => f.endsWith('.ts') && !f.includes('node_modules'),
  );
  for (const file of files) {
    for (const [, name] of (await read(`apps/${file}`)).matchAll(/name: '(sbx_\w+)'/g)) if (name) names.add(name);
  }
  return names;
}

test('docs/operations.md names every metric, alert and recording rule, and has a runbook for each alert', async () => {
  const doc = await read('docs/operations.md');
  const metrics = await registeredMetrics();
  assert.ok(metrics.size > 20, `found ${metrics.size} metrics`);
  for (const metric of metrics) assert.ok(doc.includes(`\`${metric}`), `metric ${metric}`);

  const alerts = new Set([...(await read('infra/prometheus/alerts.yml')).matchAll(/- alert: (\w+)/g)].map((m) => m[1]));
  const runbooks = /\n### Runbooks\n([\s\S]*?)\n## /.exec(doc)?.[1] ?? '';
  for (const alert of alerts) assert.ok(runbooks.includes(`**\`${alert}\`**`), `runbook for ${alert}`);
  const rules = [...(await read('infra/prometheus/recording.yml')).matchAll(/- record: (\S+)/g)].map((m) => m[1]);
  assert.ok(rules.length > 0);
  for (const rule of rules) assert.ok(doc.includes(`\`${rule}\``), `recording rule ${rule}`);
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

test('every relative link in the README and docs/ reaches a file, and its #anchor a heading there', async () => {
  const pages = [
    'README.md',
    ...(await readdir(`${ROOT}docs`)).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
  ];
  const anchors = new Map<string, Set<string>>();
  for (const page of pages) {
    const text = (await read(page)).replace(/```[\s\S]*?```/g, '');
    anchors.set(page, new Set([...text.matchAll(/^#+ (.+)$/gm)].map((m) => slug(m[1] ?? ''))));
  }
  for (const page of pages) {
    const dir = page.includes('/') ? page.slice(0, page.lastIndexOf('/') + 1) : '';
    const text = (await read(page)).replace(/```[\s\S]*?```/g, '');
    for (const [, href] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (!href || /^[a-z]+:/.test(href)) continue;
      const [path, anchor] = href.split('#');
      const target = path ? new URL(path, `file:///${dir}`).pathname.slice(1) : page;
      assert.ok(existsSync(`${ROOT}${target}`), `${page}: ${href} (no ${target})`);
      if (anchor && target.endsWith('.md')) {
        assert.ok(anchors.get(target)?.has(anchor), `${page}: ${href} (no heading #${anchor} in ${target})`);
      }
    }
  }
});
