/**
 * POST /jobs/:id/stdin on a real Redis, no worker: an interactive job's input appended to its stream
 * exactly once whatever is repeated or raced, the refusals and their codes, the caps, tenants, and
 * the result store cutting the input's life once the result is stored.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  bullKeys,
  INPUT_FIELDS,
  INPUT_STATE_FIELDS,
  internalErrorResult,
  MAX_INPUT_CALLS,
  redisKeys,
  type ServiceInfo,
  StorageLedger,
} from '@sbx/shared';
import { InputFollower, ResultStore } from '@sbx/worker';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { REDIS_URL, type Stack, startStack } from '../support/stack.js';
import { newApiKey, type TenantsFile, tenantEntry, writeTenantsFile } from '../support/tenants-file.js';

const CALL_CAP = 64;
const JOB_CAP = 200;
const apiKeys = { acme: newApiKey(), beta: newApiKey() };
const as = (tenant: keyof typeof apiKeys) => ({ authorization: `Bearer ${apiKeys[tenant]}` });
const RECEIPT = {
  limits: { time_ms: 2000, memory_mb: 128 },
  policy: 'strict' as const,
  submitted_at: '',
  request_id: 'r',
};

describe('interactive input (POST /jobs/:id/stdin)', () => {
  let stack: Stack;
  let tenants: TenantsFile;
  let redis: Redis;
  let keys: ReturnType<typeof redisKeys>;

  before(async () => {
    tenants = await writeTenantsFile([tenantEntry('acme', apiKeys.acme), tenantEntry('beta', apiKeys.beta)]);
    stack = await startStack({
      worker: false,
      env: {
        SBX_TENANTS_FILE: tenants.path,
        SBX_STDIN_MAX_CALL_BYTES: String(CALL_CAP),
        SBX_STDIN_MAX_BYTES: String(JOB_CAP),
        SBX_INTERACTIVE_WALL_MS: '45000',
        SBX_INTERACTIVE_IDLE_MS: '15000',
      },
    });
    redis = new Redis(REDIS_URL);
    keys = redisKeys(stack.config.prefix);
  });
  after(async () => {
    redis.disconnect();
    await stack.stop();
    await tenants.remove();
  });

  async function submit(body: Record<string, unknown> = { interactive: true }, tenant: keyof typeof apiKeys = 'acme') {
    const res = await stack.app.inject({
      method: 'POST',
      url: '/jobs',
      headers: as(tenant),
      payload: { code: 'print(input())', ...body },
    });
    assert.equal(res.statusCode, 202, res.body);
    return (res.json() as { id: string }).id;
  }

  const send = async (id: string, payload: Record<string, unknown>, tenant: keyof typeof apiKeys = 'acme') => {
    const res = await stack.app.inject({ method: 'POST', url: `/jobs/${id}/stdin`, headers: as(tenant), payload });
    return { status: res.statusCode, body: res.json() as Record<string, unknown> };
  };

  /** What the worker would read: the input's bytes in order, and whether it ends with eof. */
  async function stream(id: string): Promise<{ bytes: Buffer; eof: boolean; entries: number }> {
    const entries = await redis.xrangeBuffer(keys.input(id), '-', '+');
    const parts: Buffer[] = [];
    let eof = false;
    for (const [, fields] of entries) {
      assert.equal(eof, false, 'nothing after eof');
      const name = fields[0]?.toString();
      if (name === INPUT_FIELDS.data) parts.push(fields[1] as Buffer);
      else if (name === INPUT_FIELDS.eof) eof = true;
    }
    return { bytes: Buffer.concat(parts), eof, entries: entries.length };
  }

  test('input is appended in order, repeats append nothing, eof closes it; the keys live like the job', async () => {
    const id = await submit({ interactive: true, stdin: 'first\n' });
    assert.deepEqual((await send(id, { data: 'ab', offset: 0 })).body, { offset: 2, eof: false });
    assert.deepEqual((await send(id, { data: 'ab', offset: 0 })).body, { offset: 2, eof: false }, 'a retried call');
    assert.deepEqual((await send(id, { data: 'bcé\n', offset: 1 })).body, { offset: 6, eof: false }, 'overlapping');
    assert.deepEqual((await send(id, { eof: true, offset: 6 })).body, { offset: 6, eof: true });
    assert.deepEqual((await send(id, { eof: true, offset: 6 })).body, { offset: 6, eof: true }, 'eof again');
    assert.deepEqual((await send(id, { data: 'c', offset: 0 })).body, { offset: 6, eof: true }, 'a repeat after eof');
    const late = await send(id, { data: 'more', offset: 6 });
    assert.equal(late.status, 409);
    assert.equal(late.body.code, 'stdin_closed');
    assert.deepEqual(await stream(id), { bytes: Buffer.from('abcé\n'), eof: true, entries: 3 });
    const ttl = await redis.ttl(keys.input(id));
    assert.ok(ttl > stack.config.resultTtlSeconds, `the input lives as long as the job may wait and run (${ttl} s)`);
    assert.ok((await redis.ttl(keys.inputState(id))) > stack.config.resultTtlSeconds);
  });

  test('an offset past what was accepted is 409 stdin_gap, naming where to resume', async () => {
    const id = await submit();
    await send(id, { data: 'abc', offset: 0 });
    const gap = await send(id, { data: 'x', offset: 5 });
    assert.equal(gap.status, 409);
    assert.equal(gap.body.code, 'stdin_gap');
    assert.deepEqual(gap.body.details, { offset: 3 });
    assert.equal((await send(id, { eof: true, offset: 4 })).body.code, 'stdin_gap');
    assert.equal((await stream(id)).bytes.toString(), 'abc');
  });

  test('calls racing each other keep every byte once, in the order they were accepted', async () => {
    const id = await submit();
    const line = (i: number) => `line ${String(i).padStart(2, '0')}\n`;
    // Every caller sends the whole text from offset 0, in three slices, as a client retrying blindly would.
    const text = Array.from({ length: 20 }, (_, i) => line(i)).join('');
    const slices = [text.slice(0, 60), text.slice(60, 120), text.slice(120, JOB_CAP)];
    const caller = async () => {
      let offset = 0;
      for (const slice of slices) {
        const res = await send(id, { data: slice, offset });
        if (res.status === 409 && res.body.code === 'stdin_gap') return;
        assert.equal(res.status, 200, JSON.stringify(res.body));
        offset += Buffer.byteLength(slice);
      }
    };
    await Promise.all(Array.from({ length: 12 }, caller));
    await caller();
    const got = await stream(id);
    assert.equal(got.bytes.toString(), text.slice(0, JOB_CAP));
    assert.equal(
      Number(await redis.hget(keys.inputState(id), INPUT_STATE_FIELDS.accepted)),
      Buffer.byteLength(text.slice(0, JOB_CAP)),
    );
  });

  test('any text arrives as its UTF-8 bytes: NUL, controls, astral characters, a lone surrogate as U+FFFD', async () => {
    const id = await submit();
    const text = '\u0000\u0001\u007f\uffff😀\ud800end';
    const res = await send(id, { data: text, offset: 0 });
    assert.deepEqual(res.body, { offset: Buffer.byteLength(text), eof: false });
    assert.deepEqual((await stream(id)).bytes, Buffer.from(text, 'utf8'));
  });

  test('caps: per call and per job (413 payload_too_large), and a body past the route limit is read no further', async () => {
    const id = await submit();
    const big = await send(id, { data: 'x'.repeat(CALL_CAP + 1), offset: 0 });
    assert.equal(big.status, 413);
    assert.equal(big.body.code, 'payload_too_large');
    assert.deepEqual(big.body.details, { maximum: CALL_CAP });
    let offset = 0;
    while (offset + CALL_CAP <= JOB_CAP)
      offset = (await send(id, { data: 'y'.repeat(CALL_CAP), offset })).body.offset as number;
    const over = await send(id, { data: 'z'.repeat(JOB_CAP - offset + 1), offset });
    assert.equal(over.status, 413);
    assert.deepEqual(over.body.details, { maximum: JOB_CAP });
    assert.equal((await send(id, { data: 'z'.repeat(JOB_CAP - offset), offset })).body.offset, JOB_CAP, 'to the cap');
    const huge = await stack.app.inject({
      method: 'POST',
      url: `/jobs/${id}/stdin`,
      headers: { ...as('acme'), 'content-type': 'application/json' },
      payload: JSON.stringify({ data: 'w'.repeat(10 * CALL_CAP), offset: 0 }),
    });
    assert.equal(huge.statusCode, 413);
    assert.equal(huge.json().code, 'payload_too_large');
    assert.equal((await stream(id)).bytes.length, JOB_CAP);
  });

  test('one byte at a time, a job takes at most MAX_INPUT_CALLS appends', async () => {
    const id = await submit();
    // Far fewer calls than the cap are made here: the count is set as if they had been.
    await redis.hset(keys.inputState(id), INPUT_STATE_FIELDS.calls, MAX_INPUT_CALLS - 1);
    assert.equal((await send(id, { data: 'a', offset: 0 })).status, 200);
    const refused = await send(id, { data: 'b', offset: 1 });
    assert.equal(refused.status, 413);
    assert.equal(refused.body.code, 'payload_too_large');
    assert.equal((await send(id, { eof: true, offset: 1 })).body.eof, true, 'it can still be closed');
  });

  test("input counts against the tenant's stored bytes; past its quota no more is taken, but eof is", async () => {
    const ledger = new StorageLedger(redis, stack.config.prefix, stack.config.resultTtlSeconds);
    const id = await submit({ interactive: true }, 'beta');
    const before = (await ledger.check('beta', Number.MAX_SAFE_INTEGER)).used;
    assert.equal((await send(id, { data: 'x'.repeat(50), offset: 0 }, 'beta')).status, 200);
    assert.equal((await ledger.check('beta', Number.MAX_SAFE_INTEGER)).used, before + 50);
    await ledger.add('beta', 1024 * 1024 * 1024);
    const full = await send(id, { data: 'y', offset: 50 }, 'beta');
    assert.equal(full.status, 429);
    assert.equal(full.body.code, 'storage_quota');
    assert.deepEqual((await send(id, { data: 'x'.repeat(50), offset: 0 }, 'beta')).body, { offset: 50, eof: false });
    assert.deepEqual((await send(id, { eof: true, offset: 50 }, 'beta')).body, { offset: 50, eof: true });
  });

  test('a job not submitted interactive is 409 not_interactive; one with tests cannot be', async () => {
    const plain = await submit({});
    const res = await send(plain, { data: 'x', offset: 0 });
    assert.equal(res.status, 409);
    assert.equal(res.body.code, 'not_interactive');
    assert.equal((await send(plain, { eof: true, offset: 0 })).body.code, 'not_interactive');
    const tests = await stack.app.inject({
      method: 'POST',
      url: '/jobs',
      headers: as('acme'),
      payload: { code: 'x', interactive: true, tests: [{ expected_output: '' }] },
    });
    assert.equal(tests.statusCode, 400);
    assert.equal(tests.json().code, 'validation_failed');
  });

  test("another tenant's job, an unknown one and a malformed id are 404; a bad body is 400", async () => {
    const id = await submit();
    const other = await send(id, { data: 'x', offset: 0 }, 'beta');
    assert.equal(other.status, 404);
    assert.equal(other.body.code, 'not_found');
    assert.equal((await send('0b8f3c1e-2f1a-4c3b-9d4e-5f6a7b8c9d0e', { data: 'x', offset: 0 })).status, 404);
    assert.equal((await send('not-a-job', { data: 'x', offset: 0 })).status, 404);
    const noKey = await stack.app.inject({
      method: 'POST',
      url: `/jobs/${id}/stdin`,
      payload: { eof: true, offset: 0 },
    });
    assert.equal(noKey.statusCode, 401);
    for (const body of [
      { offset: 0 },
      { data: 'x', eof: true, offset: 0 },
      { data: 'x', offset: -1 },
      { data: 'x' },
      { data: 'x', offset: 0, extra: 1 },
      { eof: false, offset: 0 },
    ])
      assert.equal((await send(id, body)).status, 400, JSON.stringify(body));
    assert.deepEqual(
      await stream(id),
      { bytes: Buffer.alloc(0), eof: false, entries: 0 },
      'nothing reached the stream',
    );
  });

  test('once the result is stored: 409 job_finished, and the input lives only as long as the events', async () => {
    const id = await submit();
    await send(id, { data: 'x\n', offset: 0 });
    const store = new ResultStore(redis, {
      ttlSeconds: 3600,
      resultKey: keys.result,
      runsKey: keys.runs,
      eventsKey: keys.events,
      inputKeys: (jobId) => [keys.input(jobId), keys.inputState(jobId)],
      bull: bullKeys(stack.config.prefix, stack.config.queueName),
    });
    assert.equal(await store.store({ ...internalErrorResult(id, RECEIPT, ''), status: 'ok' }), 'stored');
    const late = await send(id, { data: 'y', offset: 2 });
    assert.equal(late.status, 409);
    assert.equal(late.body.code, 'job_finished');
    assert.equal((await send(id, { data: 'x\n', offset: 0 })).body.code, 'job_finished', 'a repeat too');
    for (const key of [keys.input(id), keys.inputState(id)]) {
      const ttl = await redis.ttl(key);
      assert.ok(ttl > 0 && ttl <= 600, `${key} expires with the events (${ttl} s)`);
    }
  });

  test("the worker's follower gets the input from the start, then live as it is sent, then eof; stop closes it", async () => {
    const id = await submit();
    await send(id, { data: 'before\n', offset: 0 });
    const connections: Redis[] = [];
    const follower = new InputFollower({
      connect: () => {
        const conn = new Redis(REDIS_URL);
        connections.push(conn);
        return conn;
      },
      inputKey: keys.input,
      log: pino({ level: 'silent' }),
      blockMs: 200,
    });
    const got: string[] = [];
    let ended: () => void = () => {};
    const eof = new Promise<void>((resolve) => {
      ended = resolve;
    });
    const stop = follower.source(id).follow({ data: (b) => got.push(b.toString()), eof: () => ended() });
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(got, ['before\n'], 'what was sent before the run started');
    await send(id, { data: 'after\n', offset: 7 });
    await send(id, { eof: true, offset: 13 });
    await eof;
    assert.deepEqual(got, ['before\n', 'after\n']);
    stop();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(connections[0]?.status, 'end', 'its connection is closed');

    // Stopped while it waits for input: the blocked read ends with its connection, and nothing more comes.
    const idle = await submit();
    const quiet: string[] = [];
    const stopQuiet = follower
      .source(idle)
      .follow({ data: (b) => quiet.push(b.toString()), eof: () => quiet.push('eof') });
    await new Promise((r) => setTimeout(r, 100));
    stopQuiet();
    await send(idle, { data: 'late\n', offset: 0 });
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(quiet, []);
    assert.equal(connections[1]?.status, 'end');
  });

  test('GET /info lists the interactive bounds and caps', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/info', headers: as('acme') });
    assert.deepEqual((res.json() as ServiceInfo).limits.interactive, {
      wall_ms: 45_000,
      idle_input_ms: 15_000,
      max_input_call_bytes: CALL_CAP,
      max_input_bytes: JOB_CAP,
    });
  });
});
