import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { API_ERRORS, ENV_VARS, RUN_STATUSES } from '@sbx/shared';

const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');

test('the README lists every environment variable with its default', () => {
  for (const spec of Object.values(ENV_VARS)) {
    const row = readme.split('\n').find((line) => new RegExp(`^\\|\\s*\`${spec.name}\`\\s*\\|`).test(line));
    assert.ok(row, `${spec.name} is in the README`);
    if (spec.default) assert.ok(row.includes(`\`${spec.default}\``), `${spec.name} default ${spec.default}`);
  }
});

test('the Quick start has exactly two commands, and .ci/run runs the test one', async () => {
  const quick = /## Quick start[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  const commands = quick
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
  assert.deepEqual(commands, ['npm run up', 'npm test']);
  const ci = await readFile(new URL('../../.ci/run', import.meta.url), 'utf8');
  assert.match(ci, /^exec npm test$/m);
});

test('the README names every status', () => {
  for (const status of RUN_STATUSES) assert.ok(readme.includes(`\`${status}\``), status);
});

test('the README error table lists every error code with its status, and no other', () => {
  const table = /Errors are `\{ "statusCode", "code", "message" \}`[^\n]*\n\n((?:\|.*\n)+)/.exec(readme)?.[1] ?? '';
  const documented: Record<string, number> = {};
  for (const row of table.split('\n').slice(2)) {
    const [codes, status] = row.split('|').slice(1, 3);
    for (const [, code] of (codes ?? '').matchAll(/`(\w+)`/g)) if (code) documented[code] = Number(status);
  }
  assert.deepEqual(documented, { ...API_ERRORS });
});
