/**
 * Redis at its memory limit, in the parts that need no Redis: telling its refusal from other errors,
 * reading INFO memory, the room a process waits for, the API's answer and gauges, and the lock keeper's
 * bookkeeping. test/sandbox/redis-memory.test.ts runs them against a real full Redis.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { toErrorBody } from '@sbx/api/errors';
import { createApiMetrics } from '@sbx/api/metrics';
import {
  API_ERRORS,
  bullKeys,
  hasRoom,
  isRedisOomError,
  parseRedisMemory,
  RedisRoom,
  RedisRoomClosedError,
  STORAGE_FULL_RETRY_AFTER_S,
  storageFullError,
  writePastLimit,
} from '@sbx/shared';
import { LockKeeper } from '@sbx/worker';
import { parse } from 'yaml';
import { sleep } from '../support/poll.js';

const OOM = "OOM command not allowed when used memory > 'maxmemory'.";

test("Redis's refusal for memory is told apart: a command's, a script's, a discarded MULTI's", () => {
  assert.ok(isRedisOomError(new Error(OOM)));
  assert.ok(isRedisOomError(new Error(`${OOM} script: eeebfb00e2a45baf84c80aab8811c526b3a60918, on @user_script:1.`)));
  const execAbort = Object.assign(new Error('EXECABORT Transaction discarded because of previous errors.'), {
    previousErrors: [new Error(OOM)],
  });
  assert.ok(isRedisOomError(execAbort));
  const otherAbort = Object.assign(new Error('EXECABORT Transaction discarded because of previous errors.'), {
    previousErrors: [new Error('WRONGTYPE Operation against a key holding the wrong kind of value')],
  });
  assert.equal(isRedisOomError(otherAbort), false);
  assert.equal(isRedisOomError(new Error('connect ECONNREFUSED 127.0.0.1:6379')), false);
  assert.equal(isRedisOomError(OOM), false, 'only errors');
  assert.equal(isRedisOomError(undefined), false);
});

test('a MULTI cut by a lost connection (one error for every command, its own previousError) is not OOM, and no stack overflow', () => {
  // ioredis's transaction.js pushes each command's error onto the EXEC error's previousErrors; when the
  // connection drops, one error object fails them all, EXEC included, so it lists itself (seen in a failover).
  const closed = new Error('Connection is closed.') as Error & { previousErrors?: unknown[] };
  closed.previousErrors = [closed, closed];
  assert.equal(isRedisOomError(closed), false);
  const oom = new Error(OOM) as Error & { previousErrors?: unknown[] };
  const abort = Object.assign(new Error('EXECABORT Transaction discarded because of previous errors.'), {
    previousErrors: [closed, oom],
  });
  oom.previousErrors = [abort];
  assert.ok(isRedisOomError(abort), 'an OOM beside a cycle is still found');
});

const INFO = (used: number, max: number, notCounted = 0) =>
  `# Memory\r\nused_memory:${used}\r\nused_memory_human:1M\r\nmaxmemory:${max}\r\nmaxmemory_human:1M\r\nmaxmemory_policy:noeviction\r\nmem_not_counted_for_evict:${notCounted}\r\n`;

test('INFO memory: used, the limit, and room by the rule Redis applies (buffers it leaves out do not count)', () => {
  assert.deepEqual(parseRedisMemory(INFO(900, 1000, 12)), { usedBytes: 900, maxBytes: 1000, notCountedBytes: 12 });
  assert.ok(hasRoom(parseRedisMemory(INFO(900, 1000))));
  assert.ok(hasRoom(parseRedisMemory(INFO(1000, 1000))), 'at the limit exactly is still room');
  assert.equal(hasRoom(parseRedisMemory(INFO(1001, 1000))), false);
  assert.ok(hasRoom(parseRedisMemory(INFO(1100, 1000, 200))), 'replication and AOF buffers are not counted');
  assert.ok(hasRoom(parseRedisMemory(INFO(10 ** 12, 0))), 'no limit');
  assert.deepEqual(parseRedisMemory(''), { usedBytes: 0, maxBytes: 0, notCountedBytes: 0 });
});

test('the API answers a refusal for memory 503 storage_full with a Retry-After, whichever route met it', () => {
  const body = toErrorBody(new Error(`${OOM} script: abc, on @user_script:1.`));
  assert.equal(body.code, 'storage_full');
  assert.equal(body.statusCode, 503);
  assert.equal(API_ERRORS.storage_full, 503);
  assert.doesNotMatch(body.message, /OOM|script/, 'no Redis internals');
  const err = storageFullError('nothing was queued');
  assert.equal(err.retryAfterSeconds, STORAGE_FULL_RETRY_AFTER_S);
  assert.match(err.message, /nothing was queued/);
});

/** An INFO memory that answers what `state` says at the time. */
function fakeRedis(state: { used: number; max: number }) {
  let reads = 0;
  return {
    reads: () => reads,
    info: async () => {
      reads += 1;
      return INFO(state.used, state.max);
    },
  };
}

test('the room: full from the first refusal (told once), polled until INFO shows room, then waiters go on', async (t) => {
  const state = { used: 2000, max: 1000 };
  const redis = fakeRedis(state);
  const events: string[] = [];
  const room = new RedisRoom(redis as never, {
    pollMs: 10,
    onFull: () => events.push('full'),
    onRoom: () => events.push('room'),
  });
  // An open room's poll keeps the process alive: closed even when an assertion fails.
  t.after(() => room.close());
  assert.equal(room.refused(new Error('ECONNRESET')), false);
  assert.equal(room.full, false);
  await room.room();
  assert.equal(redis.reads(), 0, 'nothing is polled while nothing was refused');
  assert.ok(room.refused(new Error(OOM)));
  assert.ok(room.refused(new Error(OOM)));
  assert.deepEqual(events, ['full']);
  let waited = false;
  const waiting = room.room().then(() => {
    waited = true;
  });
  // However late a loaded machine runs the timers: two polls of a full Redis, and the waiter still waits.
  for (let i = 0; i < 1000 && redis.reads() < 2; i++) await sleep(10);
  assert.ok(redis.reads() >= 2, 'polled while full');
  assert.equal(waited, false);
  state.used = 900;
  await waiting;
  assert.deepEqual(events, ['full', 'room']);
  assert.equal(room.full, false);
  room.close();
});

test('retrying: tries again each time there is room, for as long as Redis refuses; other failures go through', async (t) => {
  const state = { used: 2000, max: 1000 };
  const room = new RedisRoom(fakeRedis(state) as never, { pollMs: 5 });
  t.after(() => room.close());
  let tries = 0;
  const waits: string[] = [];
  const stored = room.retrying(
    async () => {
      tries += 1;
      if (state.used > state.max) throw new Error(OOM);
      return 'stored';
    },
    (err) => waits.push(err.message),
  );
  await sleep(40);
  assert.equal(tries, 1, 'no busy retry: it waits for room');
  state.used = 10;
  assert.equal(await stored, 'stored');
  assert.equal(tries, 2);
  assert.equal(waits.length, 1);
  await assert.rejects(
    room.retrying(async () => {
      throw new Error('NOSCRIPT');
    }),
    /NOSCRIPT/,
  );
  room.close();
});

test('closing the room rejects what waits for it: a stopping worker does not wait for ever', async (t) => {
  const room = new RedisRoom(fakeRedis({ used: 2000, max: 1000 }) as never, { pollMs: 5 });
  t.after(() => room.close());
  const waiting = room.retrying(async () => {
    throw new Error(OOM);
  });
  await sleep(20);
  room.close();
  await assert.rejects(waiting, RedisRoomClosedError);
  await assert.rejects(room.room(), RedisRoomClosedError);
});

test('the API reads Redis memory once per scrape for both gauges, and keeps the last value if Redis fails', async () => {
  const metrics = createApiMetrics();
  let reads = 0;
  let fail = false;
  metrics.readRedisMemoryFrom(async () => {
    reads += 1;
    if (fail) throw new Error('ECONNREFUSED');
    return { usedBytes: 950, maxBytes: 1000, notCountedBytes: 0 };
  });
  const scrape = async () => {
    const text = await metrics.registry.metrics();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    return [value('sbx_redis_memory_used_bytes'), value('sbx_redis_memory_max_bytes')];
  };
  assert.deepEqual(await scrape(), [950, 1000]);
  assert.equal(reads, 1);
  fail = true;
  await sleep(1100);
  assert.deepEqual(await scrape(), [950, 1000]);
});

/** A Redis whose EVAL records its calls and finds every lock held by the token it is asked about. */
function recordingRedis() {
  const calls: unknown[][] = [];
  return {
    calls,
    eval: async (...args: unknown[]) => {
      calls.push(args);
      return (Number(args[1]) - 1) as unknown;
    },
  };
}

const keeperOptions = {
  bull: bullKeys('p', 'q'),
  lockMs: 4000,
  everyMs: 20,
};

test('the lock keeper renews only the jobs whose processor still runs, each with its own token', async () => {
  const redis = recordingRedis();
  const keeper = new LockKeeper(redis as never, keeperOptions);
  assert.equal(await keeper.renew(), 0);
  assert.equal(redis.calls.length, 0, 'nothing held: no call');
  let finishA: () => void = () => {};
  const a = keeper.hold('a', 'tok-a', () => new Promise<void>((r) => (finishA = r)));
  const b = keeper.hold('b', 'tok-b', async () => {
    // A nested hold (the store inside the run) does not let the job go when it ends.
    await keeper.hold('b', 'tok-b', async () => {});
    assert.equal(await keeper.renew(), 2);
  });
  await b;
  const [, numKeys, ...rest] = redis.calls[0] as [string, number, ...string[]];
  assert.equal(numKeys, 3);
  const { bull } = keeperOptions;
  assert.deepEqual(rest, [bull.stalled, bull.lock('a'), bull.lock('b'), '4000', 'tok-a', 'a', 'tok-b', 'b']);
  assert.equal(await keeper.renew(), 1, 'b ended: only a is kept');
  assert.deepEqual((redis.calls[1] as string[]).slice(2), [bull.stalled, bull.lock('a'), '4000', 'tok-a', 'a']);
  finishA();
  await a;
  assert.equal(await keeper.renew(), 0);
  // A job with no token (not taken through the lock) is not the keeper's.
  await keeper.hold('c', undefined, async () => assert.equal(await keeper.renew(), 0));
});

test('the lock keeper renews on its own only while kept, and never again once stopped', async () => {
  const redis = recordingRedis();
  const keeper = new LockKeeper(redis as never, keeperOptions);
  let finish: () => void = () => {};
  const running = keeper.hold('a', 'tok', () => new Promise<void>((r) => (finish = r)));
  await sleep(60);
  assert.equal(redis.calls.length, 0, 'off: BullMQ renews');
  keeper.keep(true);
  assert.equal(redis.calls.length, 1, 'renewed at once');
  // Then every 20 ms, however late a loaded machine runs the timers.
  for (let i = 0; i < 500 && redis.calls.length < 3; i++) await sleep(10);
  const kept = redis.calls.length;
  assert.ok(kept >= 3, `renewed again while kept: ${kept}`);
  keeper.keep(false);
  await sleep(60);
  assert.equal(redis.calls.length, kept);
  keeper.stop();
  keeper.keep(true);
  await sleep(60);
  assert.equal(redis.calls.length, kept, 'stopped: the locks lapse');
  finish();
  await running;
});

test('both ways of running Redis give it a memory limit, SBX_REDIS_MAXMEMORY, and noeviction', async () => {
  const read = (path: string) => readFile(new URL(`../../${path}`, import.meta.url), 'utf8');
  const compose = parse(await read('docker-compose.yml')) as { services: { redis: { command: string[] } } };
  const flag = (name: string) => compose.services.redis.command[compose.services.redis.command.indexOf(name) + 1];
  assert.match(flag('--maxmemory') ?? '', /^\$\{SBX_REDIS_MAXMEMORY:-\d+[kmg]b\}$/);
  assert.equal(flag('--maxmemory-policy'), 'noeviction');
  // npm run up: at start, and on a Redis already running (CONFIG SET, checked, on every run).
  const host = await read('infra/host/ensure-host.sh');
  assert.match(host, /--maxmemory "\$REDIS_MAXMEMORY" --maxmemory-policy noeviction/);
  assert.match(host, /REDIS_MAXMEMORY="\$\{SBX_REDIS_MAXMEMORY:-/);
  assert.match(host, /"maxmemory \$REDIS_MAXMEMORY" "maxmemory-policy noeviction"/);
});

test('a write past the limit is a flagged script, and the plain command on a Redis without script flags', async () => {
  const calls: string[] = [];
  const redis7 = {
    eval: async (script: string, ...args: unknown[]) => {
      calls.push(`eval ${script.split('\n')[0]} ${args.join(' ')}`);
      return 1;
    },
    call: async () => assert.fail('no fallback on Redis 7'),
  };
  await writePastLimit(redis7 as never, 'ZADD', 'sbx:workers', [5, 'w1']);
  assert.deepEqual(calls, ['eval #!lua flags=allow-oom 1 sbx:workers ZADD 5 w1']);
  const redis6 = {
    eval: async () => {
      throw new Error("ERR Error compiling script (new function): user_script:1: unexpected symbol near '#'");
    },
    call: async (...args: unknown[]) => args.join(' '),
  };
  assert.equal(await writePastLimit(redis6 as never, 'SET', 'k', ['v', 'NX']), 'SET k v NX');
  const down = {
    eval: async () => {
      throw new Error('Connection is closed.');
    },
    call: async () => assert.fail('other errors are thrown, not retried'),
  };
  await assert.rejects(writePastLimit(down as never, 'ZADD', 'k', [1, 'm']), /Connection is closed/);
});
