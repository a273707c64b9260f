import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';

const read = (p: string) => readFile(new URL(`../../infra/sandbox/${p}`, import.meta.url), 'utf8');

test('the registry Dockerfile and the registry-free build make the same image', async () => {
  const [dockerfile, script] = await Promise.all([read('Dockerfile'), read('build-image.sh')]);
  const cmd = /^CMD (\[.*\])$/m.exec(dockerfile)?.[1];
  assert.ok(cmd, 'Dockerfile has a CMD');
  assert.ok(script.includes(`--change 'CMD ${cmd}'`), `build-image.sh uses the same CMD ${cmd}`);
  const user = /^USER (\S+)$/m.exec(dockerfile)?.[1];
  assert.ok(script.includes(`--change 'USER ${user}'`), 'same user');
  const env = /^ENV (.+)$/m.exec(dockerfile)?.[1];
  assert.ok(script.includes(`--change 'ENV ${env}'`), 'same env');
  assert.match(dockerfile, /^COPY harness\/\*\.py \/opt\/sbx\/$/m);
  assert.match(script, /"\$here"\/harness\/\*\.py "\$stage\/opt\/sbx\/"/);
  for (const text of [dockerfile, script]) assert.match(text, /ctypes/, 'ctypes is removed in both');
});
