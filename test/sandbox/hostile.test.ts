import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_ENVIRONMENT } from '@sbx/shared';
import { LABELS, runscProcesses } from '@sbx/worker';
import Docker from 'dockerode';
import { type HostileCase, loadCorpus } from '../hostile/corpus.js';
import { pollUntil } from '../support/poll.js';
import { type Stack, startStack } from '../support/stack.js';

const corpus = loadCorpus();
const docker = new Docker();
const BATCH = 8;
const MAX_CASE_TIME_MS = Math.max(...corpus.map((c) => c.timeMs));
// The environments the corpus names (`# environment:`): the stack serves each of them.
const ENVIRONMENTS_USED = [...new Set([DEFAULT_ENVIRONMENT, ...corpus.map((c) => c.environment)])];
// Set in this process, so the in-process worker has it: it must never reach a sandbox.
const HOST_SECRET = `hunter2-${randomBytes(6).toString('hex')}`;
process.env.SBX_HOST_SECRET = HOST_SECRET;

/** Malformed input that cannot live in a .py file. */
const malformed: { name: string; code: string; expect: string }[] = [
  { name: 'nul-bytes', code: 'print(1)\0print(2)\n', expect: 'runtime_error' },
  { name: 'invalid-utf8-lone-surrogate', code: 'print("\udcff")\n', expect: 'runtime_error' },
  { name: 'byte-order-mark', code: '\ufeffprint("bom")\n', expect: 'ok' },
];

async function hostInvariants(stack: Stack, canary: { path: string; content: string; mtimeMs: number }) {
  assert.equal(await readFile(canary.path, 'utf8'), canary.content, 'host canary content');
  assert.equal((await stat(canary.path)).mtimeMs, canary.mtimeMs, 'host canary mtime');
  await docker.ping();
  // Sandboxes are removed just after their job answers: give the last removals a moment. What may
  // stay is the warm pools' idle sandboxes, never more of them than their ceilings.
  const poolMax = stack.config.poolMax;
  const leftovers = async () => {
    const mine = await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.worker}=${stack.config.workerId}`] },
    });
    const pooled = mine.filter((c) => c.Labels[LABELS.job] === 'warm-pool');
    const others = mine.filter((c) => c.Labels[LABELS.job] !== 'warm-pool');
    // A pool per environment the stack serves, each up to the ceiling.
    return pooled.length <= poolMax * stack.config.environments.length ? others : mine;
  };
  let left = await leftovers();
  for (let i = 0; i < 50 && left.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    left = await leftovers();
  }
  assert.deepEqual(
    left.map((c) => c.Id.slice(0, 12)),
    [],
    'no sandbox container left',
  );
  // Strays: runsc processes of containers Docker no longer knows (other suites' live sandboxes are not ours).
  const known = new Set((await docker.listContainers({ all: true })).map((c) => c.Id));
  const strays = (await runscProcesses()).filter((p) => !p.containerId || !known.has(p.containerId));
  assert.deepEqual(strays, [], 'no stray runsc process left');
  const started = performance.now();
  const res = await stack.app.inject({ method: 'POST', url: '/run', payload: { code: 'print("still here")' } });
  assert.equal(res.json().stdout, 'still here\n');
  assert.ok(performance.now() - started < 5000, 'the worker answers the next job promptly');
}

function runCorpus(layer: 'on' | 'off') {
  describe(`hostile corpus, policy layer ${layer} (${corpus.length} programs)`, () => {
    let stack: Stack;
    const canary = { path: `/var/tmp/sbx-canary-${randomBytes(4).toString('hex')}`, content: HOST_SECRET, mtimeMs: 0 };
    before(async () => {
      await writeFile(canary.path, canary.content);
      canary.mtimeMs = (await stat(canary.path)).mtimeMs;
      // With the layer on, jobs run in warm sandboxes (the default path); with it off, in cold ones.
      const pool: Record<string, string> = layer === 'on' ? { SBX_POOL_MIN: '2', SBX_POOL_MAX: '2' } : {};
      stack = await startStack({
        env: {
          SBX_POLICY_LAYER: layer,
          SBX_WORKER_CONCURRENCY: '2',
          SBX_ENVIRONMENTS: ENVIRONMENTS_USED.join(','),
          // Room for DATA_TIME_MS: library cases under a loaded machine, judged on status, not speed.
          SBX_MAX_TIME_MS: String(MAX_CASE_TIME_MS),
          ...pool,
        },
      });
    });
    after(async () => {
      await stack.stop();
      await rm(canary.path, { force: true });
    });
    const checkpointState = async (state: string) => {
      const text = (await stack.worker?.metrics.registry.getSingleMetricAsString('sbx_sandbox_checkpoint_state')) ?? '';
      const line = text.split('\n').find((l) => l.includes(`environment="python-data",state="${state}"`));
      return Number(line?.split(' ').pop() ?? 0);
    };
    if (layer === 'on' && ENVIRONMENTS_USED.includes('python-data'))
      // The python-data cases then run in sandboxes restored from a checkpoint, as they do in service:
      // every python-data sandbox restores once the worker has verified its checkpoint.
      test('python-data sandboxes restore from a checkpoint from here on', async () => {
        const { value } = await pollUntil(
          () => checkpointState('restore'),
          (v) => v === 1,
          120_000,
          250,
        );
        assert.equal(value, 1, `checkpoint state restore; build_failed ${await checkpointState('build_failed')}`);
      });

    const check = (
      c: HostileCase,
      r: { status: string; stdout: string; stderr: string; message?: string; environment?: string },
    ) => {
      // A python-data case run in the plain environment would fail its imports and could pass as runtime_error.
      assert.equal(r.environment ?? DEFAULT_ENVIRONMENT, c.environment, `${c.name}: environment`);
      const expected = layer === 'on' ? c.expectOn : c.expectFloor;
      if (expected === 'any') assert.notEqual(r.status, 'internal_error', `${c.name}: ${r.message}`);
      else
        assert.ok(
          expected.includes(r.status as never),
          `${c.name}: ${r.status} (${r.message ?? ''}) ${r.stderr.slice(-300)}`,
        );
      const output = r.stdout + r.stderr;
      assert.ok(!output.includes(HOST_SECRET), `${c.name}: the host secret leaked`);
      for (const text of c.never) assert.ok(!output.includes(text), `${c.name}: printed ${text}`);
      if (layer === 'on') for (const text of c.neverOn) assert.ok(!output.includes(text), `${c.name}: printed ${text}`);
    };

    for (let i = 0; i < corpus.length; i += BATCH) {
      const batch = corpus.slice(i, i + BATCH);
      test(`${batch.map((c) => c.name.replace(/^\d+-/, '')).join(', ')}`, async () => {
        const results = await Promise.all(
          batch.map((c) =>
            stack.app
              .inject({
                method: 'POST',
                url: '/run',
                payload: {
                  code: c.code,
                  policy: c.policy,
                  limits: { time_ms: c.timeMs },
                  // Only when not the default: a payload without it is what every other case sends.
                  ...(c.environment === DEFAULT_ENVIRONMENT ? {} : { environment: c.environment }),
                },
              })
              .then((res) => {
                assert.equal(res.statusCode, 200, `${c.name}: ${res.body}`);
                return res.json();
              }),
          ),
        );
        // Judge the whole batch before failing, so one run shows every mismatch.
        const problems = batch.flatMap((c, k) => {
          try {
            check(c, results[k]);
            return [];
          } catch (err) {
            return [(err as Error).message];
          }
        });
        assert.deepEqual(problems, []);
        await hostInvariants(stack, canary);
      });
    }

    if (layer === 'on' && ENVIRONMENTS_USED.includes('python-data'))
      test('every python-data case ran restored: no restore failed and fell back to a cold start', async () => {
        assert.equal(await checkpointState('restore'), 1, `restore_failed ${await checkpointState('restore_failed')}`);
      });

    test('malformed input: NUL bytes, invalid UTF-8, a BOM, oversized source', async () => {
      for (const m of malformed) {
        const res = await stack.app.inject({ method: 'POST', url: '/run', payload: { code: m.code } });
        assert.equal(res.statusCode, 200, m.name);
        assert.equal(res.json().status, m.expect, `${m.name}: ${res.json().stderr}`);
      }
      const big = await stack.app.inject({ method: 'POST', url: '/run', payload: { code: `#${'x'.repeat(70_000)}` } });
      assert.equal(big.statusCode, 413);
      await hostInvariants(stack, canary);
    });
  });
}

test('the corpus has at least 60 distinct attack programs', () => {
  assert.ok(corpus.length >= 60, `${corpus.length}`);
  assert.equal(
    new Set(corpus.map((c) => `${c.environment}\n${c.policy}\n${c.code}`)).size,
    corpus.length,
    'no duplicates',
  );
});
runCorpus('on');
runCorpus('off');
