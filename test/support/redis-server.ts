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
  const ping = async () => {
    // A fresh client per try: one that failed to connect stays closed.
    const probe = new Redis(port, at.host, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      ...(at.password ? { password: at.password } : {}),
    });
    probe.on('error', () => {});
    try {
      return (await probe.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      probe.disconnect();
    }
  };
  const up = await eventually(ping, 10_000, 50);
  // A server that never answered must not outlive the test and keep its process from exiting.
  if (!up) child.kill('SIGKILL');
  assert.ok(up, `redis-server came up on ${port}`);
  return child;
}

export async function stopRedis(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null) return;
  child.kill('SIGKILL');
  await once(child, 'exit');
}
