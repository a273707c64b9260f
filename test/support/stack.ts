import { randomBytes } from 'node:crypto';
import { buildApp } from '@sbx/api';
import { type Config, loadConfig } from '@sbx/shared';
import { createWorkerService, type WorkerService } from '@sbx/worker';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { pino } from 'pino';

export const REDIS_URL = process.env.SBX_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Config for one test: a unique key prefix so parallel or leftover state never mixes. */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    SBX_REDIS_URL: REDIS_URL,
    SBX_PREFIX: `sbxtest-${randomBytes(4).toString('hex')}`,
    SBX_WORKER_METRICS_PORT: '0',
    SBX_LOG_LEVEL: 'warn',
    SBX_WORKER_ID: `test-${randomBytes(3).toString('hex')}`,
    // Cold sandboxes unless a test asks for the pool: container counts and timings stay predictable.
    SBX_POOL_MIN: '0',
    SBX_POOL_MAX: '0',
    // The plain environment unless a test asks for python-data: its probe and sandboxes cost seconds.
    SBX_ENVIRONMENTS: 'python',
    // Images built from a work tree's harness (build-image.sh with SBX_IMAGE_REPO), when given.
    ...imagesFromEnv(),
    ...env,
  });
}

/** The images, and the engine (a second dockerd, say), from the test's own environment, when set. */
function imagesFromEnv(): Record<string, string> {
  const names = ['SBX_SANDBOX_IMAGE', 'SBX_SANDBOX_IMAGE_PYTHON_DATA', 'SBX_DOCKER_SOCKET'];
  return Object.fromEntries(names.flatMap((name) => (process.env[name] ? [[name, process.env[name] as string]] : [])));
}

export interface Stack {
  config: Config;
  app: FastifyInstance;
  worker: WorkerService | null;
  stop(): Promise<void>;
}

/** A real API (inject-only) and optionally a real worker on real Redis, Docker and runsc. */
export async function startStack(opts: { env?: Record<string, string>; worker?: boolean } = {}): Promise<Stack> {
  const config = testConfig(opts.env);
  const app = await buildApp(config, { logger: false });
  const worker = opts.worker === false ? null : createWorkerService(config, pino({ level: config.logLevel }));
  await worker?.start();
  return {
    config,
    app,
    worker,
    async stop() {
      await worker?.stop();
      await app.close();
      await deleteKeys(config.prefix);
    },
  };
}

/** Removes every Redis key a test created under its prefix. */
export async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** POST /run through inject and return the parsed result, asserting the 200. */
export async function run(app: FastifyInstance, body: Record<string, unknown>) {
  const res = await app.inject({ method: 'POST', url: '/run', payload: body });
  if (res.statusCode !== 200) throw new Error(`POST /run answered ${res.statusCode}: ${res.body}`);
  return res.json();
}
