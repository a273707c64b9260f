import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type JobStreamEvent, SbxApiError, SbxClient } from '@sbx/client';
import { saveArtifacts } from '@sbx/client/save-artifacts';
import { cuttingProxy } from '../support/cutting-proxy.js';
import { type Stack, startStack } from '../support/stack.js';

const PRINT_SLEEP_PRINT = "import time\nprint('first', flush=True)\ntime.sleep(1)\nprint('second')";

/** Every event of a stream, each with when it came. */
async function timed(stream: AsyncIterable<JobStreamEvent>) {
  const out: { event: JobStreamEvent; at: number }[] = [];
  for await (const event of stream) out.push({ event, at: performance.now() });
  return out;
}
const stdoutOf = (events: { event: JobStreamEvent }[]) =>
  events.map(({ event: e }) => (e.type === 'stdout' && 'text' in e.data ? e.data.text : '')).join('');

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TEST_DIR = fileURLToPath(new URL('../', import.meta.url));

function sh(cmd: string, args: string[], env: Record<string, string>, cwd = ROOT) {
  return new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.on('exit', (code) => resolve({ code, out }));
  });
}

/** The fenced block after `<!-- example:NAME -->`: on the README's front page, or in docs/api.md. */
async function readmeExample(name: string): Promise<string> {
  const docs = await Promise.all(['README.md', 'docs/api.md'].map((page) => readFile(`${ROOT}${page}`, 'utf8')));
  const m = new RegExp(`<!-- example:${name} -->\\n\`\`\`\\w+\\n([\\s\\S]*?)\`\`\``).exec(docs.join('\n'));
  assert.ok(m?.[1], `README.md or docs/api.md has the ${name} example`);
  return m[1];
}

describe('client libraries and README examples, against a live API', () => {
  let stack: Stack;
  let url = '';
  before(async () => {
    stack = await startStack({
      env: { SBX_SELF_CHECK: 'off', SBX_WORKER_CONCURRENCY: '2', SBX_ENVIRONMENTS: 'python,python-data' },
    });
    await stack.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(stack.app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await stack.stop();
  });

  test('the Python client passes its own unittest suite', async () => {
    const { code, out } = await sh('python3', ['-m', 'unittest', 'discover', '-s', 'clients/python/tests', '-v'], {
      SBX_TEST_URL: url,
    });
    assert.equal(code, 0, out);
    assert.match(out, /Ran \d+ tests/);
  });

  test('the TypeScript client: run, submit + wait, typed errors', async () => {
    const sbx = new SbxClient({ baseUrl: url });
    const r = await sbx.run({ code: 'print(2 + 2)' });
    assert.equal(r.stdout, '4\n');
    const id = await sbx.submit({ code: 'print("later")' });
    assert.equal((await sbx.wait(id)).stdout, 'later\n');
    const placed = await sbx.enqueue({ code: 'print("placed")', lane: 'interactive' });
    assert.equal(placed.lane, 'interactive');
    assert.ok('position' in placed && 'eta_seconds' in placed, JSON.stringify(placed));
    assert.equal((await sbx.wait(placed.id)).stdout, 'placed\n');
    let asked = 0;
    const full = new SbxClient({
      baseUrl: url,
      fetch: async () => {
        asked += 1;
        return new Response(JSON.stringify({ statusCode: 503, code: 'queue_full', message: 'full' }), {
          status: 503,
          headers: { 'content-type': 'application/json', 'retry-after': '7' },
        });
      },
    });
    await assert.rejects(
      full.submit({ code: 'print(1)' }),
      (e: unknown) => e instanceof SbxApiError && e.code === 'queue_full' && e.retryAfterSeconds === 7,
    );
    assert.equal(asked, 1, 'a full queue is not retried: the caller decides when, from retryAfterSeconds');
    assert.equal((await sbx.info()).runtime.language, 'python');

    // The first answer is lost on its way back (the job ran): the retry gets the same run.
    const seen: { id: string; stdout: string }[] = [];
    const losing = new SbxClient({
      baseUrl: url,
      fetch: async (input, init) => {
        const res = await fetch(input, init);
        if (init?.method !== 'POST') return res;
        seen.push((await res.clone().json()) as { id: string; stdout: string });
        if (seen.length === 1) throw new TypeError('fetch failed');
        return res;
      },
    });
    const once = await losing.run({ code: 'import random\nprint(random.getrandbits(64))' });
    assert.equal(seen.length, 2);
    assert.deepEqual([once.id, once.stdout], [seen[0]?.id, seen[0]?.stdout]);
    await assert.rejects(
      sbx.run({ code: '' }),
      (e: unknown) => e instanceof SbxApiError && e.code === 'validation_failed',
    );
  });

  test('the TypeScript client: a body over the limit is one readable 413; known limits keep it from being sent', async () => {
    let posts = 0;
    const counting: typeof fetch = async (input, init) => {
      if (init?.method === 'POST') posts++;
      return fetch(input, init);
    };
    const sbx = new SbxClient({ baseUrl: url, fetch: counting });
    const big = { code: 'print(1)', stdin: 'x'.repeat(16_000_000) };
    await assert.rejects(
      sbx.submit(big),
      (e: unknown) => e instanceof SbxApiError && e.statusCode === 413 && e.code === 'payload_too_large',
    );
    assert.equal(posts, 1, 'not retried');
    await sbx.info();
    await assert.rejects(sbx.submit(big), (e: unknown) => e instanceof SbxApiError && e.code === 'stdin_too_large');
    assert.equal(posts, 1, 'refused before sending');
  });

  test('the TypeScript client streams: the first line comes about a second before the result; a cut connection is resumed with no gap or repeat', async () => {
    const sbx = new SbxClient({ baseUrl: url });
    const stream = sbx.stream({ code: PRINT_SLEEP_PRINT });
    const events = await timed(stream);
    const first = events.find(({ event }) => event.type === 'stdout');
    const last = events.at(-1);
    assert.equal(last?.event.type, 'result');
    assert.ok(first && last && last.at - first.at > 500, `first line ${first?.at}, result ${last?.at}`);
    assert.equal(stdoutOf(events), 'first\nsecond\n');
    assert.equal(stream.result?.stdout, 'first\nsecond\n');

    const proxy = await cuttingProxy(url, { event: 'stdout', at: 'inside' });
    try {
      const resumed = await timed(new SbxClient({ baseUrl: proxy.url }).stream({ code: PRINT_SLEEP_PRINT }));
      assert.equal(proxy.cuts, 1);
      const ids = resumed.map(({ event }) => event.id).filter(Boolean);
      assert.equal(new Set(ids).size, ids.length, 'no event twice');
      assert.equal(stdoutOf(resumed), 'first\nsecond\n');
      assert.equal(resumed.at(-1)?.event.type, 'result');
    } finally {
      await proxy.close();
    }
  });

  test('the TypeScript client answers an input() prompt of an interactive job', async (t) => {
    const sbx = new SbxClient({ baseUrl: url });
    if (!('interactive' in (await sbx.info()).limits)) return t.skip('this server has no interactive input');
    // The program reads to end of file, so it is still running when the input is closed.
    const request = {
      code: "import sys\nname = input('name? ')\nprint('hi', name)\nprint(sys.stdin.read(), end='')",
      interactive: true,
    };
    const stream = sbx.stream(request as Parameters<SbxClient['stream']>[0]);
    for await (const event of stream) {
      if (event.type !== 'stdout' || !('text' in event.data) || !event.data.text.includes('name?')) continue;
      const id = stream.jobId as string;
      assert.deepEqual(await sbx.sendInput(id, 'ada\n'), { offset: 4, eof: false });
      assert.equal((await sbx.sendInput(id, 'ok\n')).offset, 7);
      assert.deepEqual(await sbx.closeInput(id), { offset: 7, eof: true });
    }
    assert.equal(stream.result?.stdout, 'name? hi ada\nok\n');
  });

  test('the README curl, Python and TypeScript examples run and print what they promise', async () => {
    const curl = await sh('bash', ['-c', await readmeExample('curl')], { SBX_URL: url });
    assert.equal(curl.code, 0, curl.out);
    assert.equal(JSON.parse(curl.out).stdout, '45\n');

    const python = await sh('python3', ['-c', await readmeExample('python')], {
      SBX_URL: url,
      PYTHONPATH: `${ROOT}clients/python`,
    });
    assert.equal(python.code, 0, python.out);
    assert.equal(python.out, '4\ntimeout\n');

    const dir = await mkdtemp(`${TEST_DIR}.readme-`);
    try {
      await writeFile(`${dir}/example.ts`, await readmeExample('typescript'));
      const ts = await sh(process.execPath, ['--import', 'tsx', `${dir}/example.ts`], { SBX_URL: url }, TEST_DIR);
      assert.equal(ts.code, 0, ts.out);
      assert.match(ts.out, /\{ passed: 1, total: 1 \}/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the streaming examples (docs/api.md) print each line, then the verdict', async () => {
    const python = await sh('python3', ['-c', await readmeExample('python-stream')], {
      SBX_URL: url,
      PYTHONPATH: `${ROOT}clients/python`,
    });
    assert.equal(python.code, 0, python.out);
    assert.equal(python.out, 'first\nsecond\nok\n');

    const dir = await mkdtemp(`${TEST_DIR}.stream-`);
    try {
      await writeFile(`${dir}/example.ts`, await readmeExample('typescript-stream'));
      const ts = await sh(process.execPath, ['--import', 'tsx', `${dir}/example.ts`], { SBX_URL: url }, TEST_DIR);
      assert.equal(ts.code, 0, ts.out);
      assert.equal(ts.out, 'first\nsecond\nok\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the chart examples (README, docs/api.md) save a PNG, by curl and by one Python call; saveArtifacts does it in TypeScript', async () => {
    const dir = await mkdtemp(`${TEST_DIR}.charts-`);
    const isPng = async (path: string) =>
      (await readFile(path)).subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    try {
      const curl = await sh('bash', ['-c', await readmeExample('chart-curl')], { SBX_URL: url }, dir);
      assert.equal(curl.code, 0, curl.out);
      assert.equal(curl.out, 'figure-1.png image/png\n');
      assert.ok(await isPng(`${dir}/chart.png`), 'chart.png is a PNG');

      const python = await sh(
        'python3',
        ['-c', await readmeExample('chart-python')],
        { SBX_URL: url, PYTHONPATH: `${ROOT}clients/python` },
        dir,
      );
      assert.equal(python.code, 0, python.out);
      assert.equal(python.out, "['charts/figure-1.png']\n");
      assert.ok(await isPng(`${dir}/charts/figure-1.png`));

      const sbx = new SbxClient({ baseUrl: url });
      const result = await sbx.run({
        environment: 'python-data',
        policy: 'standard',
        code: 'import matplotlib.pyplot as plt\nplt.plot([1, 2])\nopen("/tmp/outputs/n.txt", "w").write("7")',
      });
      const written = await saveArtifacts(result, `${dir}/ts`);
      assert.deepEqual(written, [`${dir}/ts/figure-1.png`, `${dir}/ts/n.txt`]);
      assert.equal(await readFile(`${dir}/ts/n.txt`, 'utf8'), '7');
      await assert.rejects(
        saveArtifacts({ artifacts: [{ name: '../escape', mime: 'text/plain', bytes: 1, data: 'eA==', url: '' }] }, dir),
        /leaves the folder/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
