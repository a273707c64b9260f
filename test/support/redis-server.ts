import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { eventually } from './poll.js';

/** A Redis of a test's own, on its own port, that the test can kill and bring back. */
export async function startRedis(port: number, dataDir?: string): Promise<ChildProcess> {
  // With a data dir, every write is on disk before it is acknowledged: a SIGKILL loses nothing acknowledged.
  const persistence = dataDir
    ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dataDir]
    : ['--appendonly', 'no'];
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence];
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  const ping = async () => {
    // A fresh client per try: one that failed to connect stays closed.
    const probe = new Redis(port, '127.0.0.1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
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
  assert.ok(await eventually(ping, 10_000, 50), `redis-server came up on ${port}`);
  return child;
}

export async function stopRedis(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null) return;
  child.kill('SIGKILL');
  await once(child, 'exit');
}
