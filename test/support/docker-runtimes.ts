/** Registering a runsc variant with the real dockerd for a test or a bench, and taking it out again. */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { eventually } from './poll.js';

const DAEMON_JSON = '/etc/docker/daemon.json';
const REGISTER = fileURLToPath(new URL('../../infra/host/register-runsc.mjs', import.meta.url));
const docker = new Docker();

/** Runs register-runsc.mjs, reloads dockerd when the file changed, and waits until dockerd shows it. */
async function apply(args: string[], name: string, present: boolean): Promise<void> {
  if (execFileSync('node', [REGISTER, DAEMON_JSON, ...args], { encoding: 'utf8' }).trim() === 'yes')
    execFileSync('pkill', ['-HUP', '-x', 'dockerd']);
  const listed = await eventually(
    async () =>
      (((await docker.info()) as { Runtimes?: Record<string, unknown> }).Runtimes?.[name] !== undefined) === present,
    10_000,
    100,
  );
  if (!listed) throw new Error(`dockerd did not ${present ? 'pick up' : 'drop'} runtime ${name}`);
}

/** `runsc` at `path` as runtime `name`, with the registered flags and `changes` (`directfs=true`) over them. */
export const registerRuntime = (path: string, name: string, changes: string[] = []) =>
  apply([path, name, ...changes], name, true);

export const removeRuntime = (name: string) => apply(['--remove', name], name, false);
