import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { eventually } from './poll.js';

/**
 * A Redis of a test's own, on its own port, that the test can kill and bring back. On loopback, or
 * bound to `at.host` inside the network namespace `at.netns` (the test must be able to reach it).
 * Off loopback it needs `at.password`: Redis's protected mode refuses other hosts without one.
 */
export async function startRedis(
  port: number,
  dataDir?: string,
  at: { host: string; netns?: string; password?: string } = { host: '127.0.0.1' },
): Promise<ChildProcess> {
  // With a data dir, every write is on disk before it is acknowledged: a SIGKILL loses nothing acknowledged.
  const persistence = dataDir
    ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dataDir]
    : ['--appendonly', 'no'];
  const auth = at.password ? ['--requirepass', at.password] : [];
  const args = ['--port', String(port), '--bind', at.host, '--save', '', ...auth, ...persistence];
  const [command, ...argv] = at.netns
    ? ['ip', 'netns', 'exec', at.netns, 'redis-server', ...args]
    : ['redis-server', ...args];
  const child = spawn(command as string, argv, { stdio: 'ignore' });
  const ping = async () => (await askRedis(port, (c) => c.ping(), at)) === 'PONG';
  const up = await eventually(ping, 10_000, 50);
  // A server that never answered must not outlive the test and keep its process from exiting.
  if (!up) child.kill('SIGKILL');
  assert.ok(up, `redis-server came up on ${port}`);
  return child;
}

/**
 * Runs `work` on a client that connects once and never reconnects in the background (a fresh one per
 * call: one that failed to connect stays closed); null when Redis does not answer.
 */
export async function askRedis<T>(
  port: number,
  work: (client: Redis) => Promise<T>,
  at: { host: string; password?: string } = { host: '127.0.0.1' },
): Promise<T | null> {
  const client = new Redis(port, at.host, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    ...(at.password ? { password: at.password } : {}),
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return await work(client);
  } catch {
    return null;
  } finally {
    client.disconnect();
  }
}

export async function stopRedis(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null) return;
  child.kill('SIGKILL');
  await once(child, 'exit');
}
