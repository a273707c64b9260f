/**
 * The Python and TypeScript clients' streams over a real listening API on a real Redis, with the
 * worker's own publishing pieces (LiveRuns, ResultStore) standing in for a run: no sandbox. Each line
 * reaches the client before the run ends, and a connection cut once (mid-event or right after one) is
 * resumed with nothing missed and nothing repeated.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type JobStreamEvent, SbxClient } from '@sbx/client';
import { bullKeys, internalErrorResult, type RunResult, redisKeys } from '@sbx/shared';
import { JobEventPublisher, LiveRuns, ResultStore } from '@sbx/worker';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { type CuttingProxy, cuttingProxy } from '../support/cutting-proxy.js';
import { REDIS_URL, type Stack, startStack } from '../support/stack.js';
import { newApiKey, type TenantsFile, tenantEntry, writeTenantsFile } from '../support/tenants-file.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RECEIPT = {
  limits: { time_ms: 2000, memory_mb: 128 },
  policy: 'strict' as const,
  submitted_at: '',
  request_id: 'r',
};
const apiKey = newApiKey();

/** Prints each event of a stream as a JSON line, as it comes: argv is url, key, job id (or - to submit code). */
const PYTHON_VIEWER = `
import json, sys
from sbx_client import Client
client = Client(sys.argv[1], sys.argv[2])
stream = client.stream(sys.argv[3]) if sys.argv[3] != "-" else client.stream(code="print(1)")
for event in stream:
    print(json.dumps({"type": event.type, "id": event.id, "data": event.data, "job": stream.job_id}), flush=True)
`;

interface Seen {
  type: string;
  id: string | null;
  data: Record<string, unknown>;
  job: string;
}

/** The Python client streaming in a child process: its events one by one, as it prints them. */
function pythonViewer(url: string, target: string) {
  const child = spawn('/usr/bin/python3', ['-c', PYTHON_VIEWER, url, apiKey, target], {
    env: { ...process.env, PYTHONPATH: `${ROOT}clients/python` },
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    async next(): Promise<Seen> {
      const { done, value } = await lines.next();
      if (done) throw new Error(`the Python viewer ended: ${stderr}`);
      return JSON.parse(value) as Seen;
    },
    exited: new Promise<number | null>((resolve) => child.on('exit', resolve)),
    kill: () => child.kill(),
  };
}

const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('the clients stream a job live and resume a dropped connection', () => {
  let stack: Stack;
  let base: string;
  let tenants: TenantsFile;
  let redis: Redis;
  let live: LiveRuns;
  let store: ResultStore;
  let sbx: SbxClient;

  before(async () => {
    tenants = await writeTenantsFile([tenantEntry('acme', apiKey)]);
    stack = await startStack({ worker: false, env: { SBX_TENANTS_FILE: tenants.path } });
    await stack.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(stack.app.server.address() as AddressInfo).port}`;
    redis = new Redis(REDIS_URL);
    const keys = redisKeys(stack.config.prefix);
    const bull = bullKeys(stack.config.prefix, stack.config.queueName);
    const log = pino({ level: 'silent' });
    const publisher = new JobEventPublisher(redis, { eventsKey: keys.events, lockKey: bull.lock, ttlSeconds: 60, log });
    live = new LiveRuns({ writerFor: (id, token) => publisher.forRun(id, token), capBytes: 10_000 });
    store = new ResultStore(redis, {
      ttlSeconds: 60,
      resultKey: keys.result,
      runsKey: keys.runs,
      eventsKey: keys.events,
      bull,
    });
    sbx = new SbxClient({ baseUrl: base, apiKey });
  });
  after(async () => {
    redis.disconnect();
    await stack.stop();
    await tenants.remove();
  });

  const resultOf = (id: string, stdout: string): RunResult => ({
    ...internalErrorResult(id, RECEIPT, ''),
    status: 'ok',
    stdout,
    exit_code: 0,
  });

  /** A run of the job writing `lines` one by one, each once `ready()` says the viewer has the one before. */
  async function runLines(id: string, lines: string[], ready: (line: string) => Promise<void>) {
    const run = live.start(id, { attempt: 1, token: undefined });
    for (const line of lines) {
      run.output.write('stdout', Buffer.from(line));
      await ready(line);
    }
    run.end();
    assert.equal(await store.store(resultOf(id, lines.join(''))), 'stored');
  }

  const stdoutOf = (events: { type: string; data: unknown }[]) =>
    events
      .filter((e) => e.type === 'stdout')
      .map((e) => (e.data as { text: string }).text)
      .join('');

  test('TypeScript: each line arrives before the run ends; the stream ends with the result', async () => {
    const id = await sbx.submit({ code: 'print(1)' });
    const events: JobStreamEvent[] = [];
    const it = sbx.stream(id)[Symbol.asyncIterator]();
    const nextOf = async (type: string) => {
      for (let r = await it.next(); !r.done; r = await it.next()) {
        events.push(r.value);
        if (r.value.type === type) return r.value;
      }
      throw new Error(`the stream ended before a ${type} event`);
    };
    const queued = await nextOf('status');
    assert.equal(queued.type === 'status' && queued.data.state, 'queued');
    await runLines(id, ['first\n', 'second\n'], async (line) => {
      const event = await nextOf('stdout');
      assert.deepEqual(event.data, { text: line }, 'this line, while the run goes on');
    });
    const result = await nextOf('result');
    assert.equal(result.type === 'result' && result.data.result?.stdout, 'first\nsecond\n');
    assert.equal((await it.next()).done, true);
    assert.equal(stdoutOf(events), 'first\nsecond\n');
  });

  for (const at of ['inside', 'after'] as const) {
    test(`TypeScript: a connection cut ${at} an event is resumed with no gap and no repeat`, async () => {
      const proxy = await cuttingProxy(base, { event: 'stdout', at });
      try {
        const client = new SbxClient({ baseUrl: proxy.url, apiKey });
        const id = await client.submit({ code: 'print(1)' });
        const it = client.stream(id)[Symbol.asyncIterator]();
        const events: JobStreamEvent[] = [];
        const untilStdout = async () => {
          for (let r = await it.next(); !r.done; r = await it.next()) {
            events.push(r.value);
            if (r.value.type === 'stdout') return;
          }
        };
        await runLines(id, ['a\n', 'b\n', 'c\n'], untilStdout);
        for (let r = await it.next(); !r.done; r = await it.next()) events.push(r.value);
        assertResumed(events, proxy, `/jobs/${id}/events`);
      } finally {
        await proxy.close();
      }
    });
  }

  test('Python: each line arrives before the run ends; a connection cut inside an event is resumed with no gap and no repeat', async () => {
    const proxy = await cuttingProxy(base, { event: 'stdout', at: 'inside' });
    const id = await sbx.submit({ code: 'print(1)' });
    const viewer = pythonViewer(proxy.url, id);
    try {
      const events: Seen[] = [await viewer.next()];
      assert.equal(events[0]?.data.state, 'queued');
      await runLines(id, ['a\n', 'b\n', 'c\n'], async (line) => {
        let event: Seen;
        do {
          event = await viewer.next();
          events.push(event);
        } while (event.type !== 'stdout');
        assert.deepEqual(event.data, { text: line }, 'this line, while the run goes on');
      });
      do events.push(await viewer.next());
      while (events.at(-1)?.type !== 'result');
      assert.equal(await viewer.exited, 0);
      assertResumed(events, proxy, `/jobs/${id}/events`);
    } finally {
      viewer.kill();
      await proxy.close();
    }
  });

  test('Python: a new submission streams from POST /run and resumes by its job id after a cut', async () => {
    const proxy = await cuttingProxy(base, { event: 'stdout', at: 'after' });
    const viewer = pythonViewer(proxy.url, '-');
    try {
      const events: Seen[] = [await viewer.next()];
      const id = events[0]?.job as string;
      assert.match(id, /\S/, 'the job id, from Location, with the first event');
      await runLines(id, ['x\n', 'y\n'], async () => {
        await pause(30);
      });
      do events.push(await viewer.next());
      while (events.at(-1)?.type !== 'result');
      assert.equal(stdoutOf(events), 'x\ny\n');
      assert.equal(proxy.cuts, 1);
      assert.deepEqual(
        proxy.requests.map((r) => r.line),
        ['POST /run', `GET /jobs/${id}/events`],
      );
    } finally {
      viewer.kill();
      await proxy.close();
    }
  });
});

/** One cut, one resume after the last event the viewer had, and every event once, in order. */
function assertResumed(
  events: { type: string; id?: string | null; data: unknown }[],
  proxy: CuttingProxy,
  path: string,
) {
  assert.equal(proxy.cuts, 1, 'the proxy cut one connection');
  const gets = proxy.requests.filter((r) => r.line === `GET ${path}`);
  assert.equal(gets.length, 2, JSON.stringify(proxy.requests));
  const ids = events.map((e) => e.id).filter((id): id is string => typeof id === 'string');
  assert.equal(new Set(ids).size, ids.length, `no event twice: ${ids}`);
  assert.ok(gets[1]?.lastEventId && ids.includes(gets[1].lastEventId), 'resumed with Last-Event-ID');
  assert.deepEqual(
    events.filter((e) => e.id).map((e) => e.type),
    ['status', 'stdout', 'stdout', 'stdout', 'result'],
  );
  assert.equal(
    events
      .filter((e) => e.type === 'stdout')
      .map((e) => (e.data as { text: string }).text)
      .join(''),
    'a\nb\nc\n',
  );
}
