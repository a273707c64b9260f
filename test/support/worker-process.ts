import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const WORKER_MAIN = fileURLToPath(new URL('../../apps/worker/src/main.ts', import.meta.url));
const API_MAIN = fileURLToPath(new URL('../../apps/api/src/server.ts', import.meta.url));

/** How long a service may take to log its ready line before it is killed and the spawn fails. */
export const DEFAULT_READY_MS = 30_000;

/**
 * A real service in its own process, so a test can SIGKILL it. Resolves once its log has `readyLine`.
 * With `netns`, it runs in that network namespace (`ip netns exec` execs it: the pid is the service's).
 */
async function spawnService(
  main: string,
  env: Record<string, string>,
  readyLine: string,
  onLine?: (line: string) => void,
  netns?: string,
  readyMs = DEFAULT_READY_MS,
): Promise<ChildProcess> {
  const node = [process.execPath, '--import', 'tsx', main];
  const [command, ...args] = netns ? ['ip', 'netns', 'exec', netns, ...node] : node;
  const child = spawn(command as string, args, {
    // At info whatever the test asked: the ready line is an info line.
    env: { ...process.env, ...env, SBX_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let seen = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes(readyLine)) {
        // Keep reading so a full pipe never blocks the service; forget what was read.
        seen = '';
        child.stdout?.off('data', onData);
        if (onLine) {
          let partial = '';
          child.stdout?.on('data', (more: Buffer) => {
            const lines = (partial + more.toString()).split('\n');
            partial = lines.pop() ?? '';
            for (const line of lines) onLine(line);
          });
        } else child.stdout?.resume();
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${main} exited with ${code} before ready: ${seen}`)));
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), readyMs);
  try {
    await ready;
  } finally {
    clearTimeout(timeout);
  }
  return child;
}

/** A real worker in its own process. Resolves once it logs "worker ready"; `onLine` gets each later log line. */
export function spawnWorker(
  env: Record<string, string>,
  onLine?: (line: string) => void,
  netns?: string,
  readyMs = DEFAULT_READY_MS,
): Promise<ChildProcess> {
  // The plain environment unless the test asks for python-data: its probe and pool cost seconds.
  return spawnService(
    WORKER_MAIN,
    { SBX_WORKER_METRICS_PORT: '0', SBX_ENVIRONMENTS: 'python', ...env },
    '"worker ready"',
    onLine,
    netns,
    readyMs,
  );
}

/** A real API in its own process, listening on SBX_API_PORT. Resolves once it listens. */
export function spawnApi(
  env: Record<string, string>,
  onLine?: (line: string) => void,
  netns?: string,
): Promise<ChildProcess> {
  return spawnService(
    API_MAIN,
    { SBX_API_METRICS_PORT: '0', SBX_ENVIRONMENTS: 'python', ...env },
    'Server listening',
    onLine,
    netns,
  );
}

export async function stopWorker(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  child.kill(signal);
  const [code] = await once(child, 'exit');
  return code as number | null;
}
