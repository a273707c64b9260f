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
  const envs = [...dockerfile.matchAll(/^ENV (.+)$/gm)].map((m) => m[1]);
  assert.equal(envs.length, 1, 'one ENV line: the rest is set by preload.py (the worker replaces the env)');
  assert.ok(script.includes(`--change 'ENV ${envs[0]}'`), 'same env');
  assert.equal((script.match(/--change 'ENV /g) ?? []).length, 1, 'build-image.sh sets no other env');
  // The harness's modules and wire.json, the protocol both it and the worker load.
  assert.match(dockerfile, /^COPY harness\/\*\.py harness\/\*\.json \/opt\/sbx\/$/m);
  assert.match(script, /"\$here"\/harness\/\*\.py "\$here"\/harness\/\*\.json "\$stage\/opt\/sbx\/"/);
  for (const text of [dockerfile, script]) assert.match(text, /ctypes/, 'ctypes is removed in both');
  for (const text of [dockerfile, script]) assert.match(text, /chmod ug-s/, 'setuid bits are cleared in both');
});

test('both builds install each environment from the same package list, with its preload and versions', async () => {
  const [dockerfile, script, install] = await Promise.all([
    read('Dockerfile'),
    read('build-image.sh'),
    read('environments/install.sh'),
  ]);
  // Both run the one installer on the environment's own list.
  assert.match(dockerfile, /^ARG ENVIRONMENT=python$/m);
  assert.match(dockerfile, /^COPY environments\/ \/tmp\/sbx-env\/$/m);
  assert.match(dockerfile, /sh \/tmp\/sbx-env\/install\.sh "\/tmp\/sbx-env\/\$ENVIRONMENT\.packages"/);
  assert.match(script, /cp "\$envdir\/\$env\.packages" "\$envdir\/install\.sh"/);
  assert.match(script, /install\.sh "\/tmp\/sbx-env\/\$env\.packages"/);
  assert.match(install, /--no-install-recommends/);
  assert.match(dockerfile, /--no-install-recommends python3\.11/);
  // Both copy versions.py into every image and the preload where the environment has one.
  assert.match(dockerfile, /install -m 0444 \/tmp\/sbx-env\/versions\.py \/opt\/sbx\/versions\.py/);
  assert.match(script, /install -m 0444 "\$envdir\/versions\.py" "\$stage\/opt\/sbx\/versions\.py"/);
  assert.match(dockerfile, /"\/tmp\/sbx-env\/\$ENVIRONMENT\.preload\.py" \/opt\/sbx\/preload\.py/);
  assert.match(script, /"\$envdir\/\$env\.preload\.py" "\$stage\/opt\/sbx\/preload\.py"/);
  // The tag changes whenever anything that goes into the image does.
  const hashed = /hash=\$\(cat ([^|]+)\|/.exec(script)?.[1] ?? '';
  for (const part of [
    'harness/*.py',
    'harness/*.json',
    'versions.py',
    'install.sh',
    '$env.packages',
    '$env.preload.py',
  ])
    assert.ok(hashed.includes(part), `the image hash covers ${part}`);
});

test('each environment has a package list, and the preload sets its library env itself', async () => {
  const { ENVIRONMENTS } = await import('../../packages/shared/src/environments.js');
  for (const env of ENVIRONMENTS) await read(`environments/${env}.packages`);
  const data = await read('environments/python-data.packages');
  const listed = data
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
  for (const p of ['python3-numpy', 'python3-pandas', 'python3-matplotlib']) assert.ok(listed.includes(p), p);
  assert.ok(!listed.includes('python3-scipy'), 'scipy is not installed');
  const preload = await read('environments/python-data.preload.py');
  for (const name of ['OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MPLBACKEND', 'MPLCONFIGDIR'])
    assert.match(preload, new RegExp(`"${name}"`), `preload.py sets ${name}`);
  assert.match(preload, /\/usr\/lib\/python3\/dist-packages/);
});
