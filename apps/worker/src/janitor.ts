import { readdir, readFile } from 'node:fs/promises';
import type Docker from 'dockerode';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { LABELS } from './sandbox/container-spec.js';

export interface JanitorOptions {
  docker: Docker;
  redis: Redis;
  workersKey: string;
  workerId: string;
  /** Only sandboxes labelled with this deployment prefix are considered. */
  prefix: string;
  staleMs: number;
  log: Logger;
}

/** Container states in which no runsc process of it has any business running ('unknown': Docker has no such container). */
const ENDED = new Set(['unknown', 'exited', 'dead']);

/**
 * A sandbox is started right after it is created; one still `created` this long after has lost its
 * start (dockerd killed in between) while its runsc sandbox process, made at create, lives on.
 */
const STUCK_CREATED_S = 60;

/** A job runs at most SBX_MAX_TESTS tests of SBX_MAX_TIME_MS each (50 × 2 s by default): far less. */
const OWN_LEFTOVER_AGE_S = 15 * 60;

/**
 * Removes sandbox containers whose worker is gone (a SIGKILLed worker cannot
 * clean up), then kills runsc processes of containers Docker does not know or
 * knows as ended (a failed runsc start or a dockerd restart can leave them).
 */
export async function reapLeftovers(opts: JanitorOptions): Promise<{ containers: number; processes: number }> {
  const { docker, redis, workersKey, workerId, prefix, staleMs, log } = opts;
  const cutoff = Date.now() - staleMs;
  await redis.zremrangebyscore(workersKey, '-inf', cutoff);
  const live = new Set(await redis.zrangebyscore(workersKey, cutoff, '+inf'));
  live.add(workerId);

  const listed = await docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.managed}=1`, `${LABELS.prefix}=${prefix}`] },
  });
  let containers = 0;
  const abandonedBefore = Date.now() / 1000 - OWN_LEFTOVER_AGE_S;
  for (const info of listed) {
    const owner = info.Labels[LABELS.worker] ?? '';
    // A live worker's sandboxes are its own business, except those it could not remove (the engine
    // was away): never started, or stopped, and older than any job can run.
    const ownLeftover =
      owner === workerId &&
      ((info.State === 'created' && info.Created < Date.now() / 1000 - STUCK_CREATED_S) ||
        (info.State === 'exited' && info.Created < abandonedBefore));
    if (live.has(owner) && !ownLeftover) continue;
    try {
      await docker.getContainer(info.Id).remove({ force: true });
      containers += 1;
      log.info({ container: info.Id.slice(0, 12), owner, job: info.Labels[LABELS.job] }, 'removed leftover sandbox');
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) log.warn({ err }, 'could not remove leftover sandbox');
    }
  }

  // Processes first, containers second: a sandbox created in between is then known, never mistaken
  // for a stray. A runsc process is a stray when Docker does not know its container, or knows it as
  // ended: after a dockerd restart the engine may mark a sandbox exited while its runsc lives on,
  // and removing that container does not end it either.
  const candidates = await runscProcesses();
  const states = new Map((await docker.listContainers({ all: true })).map((c) => [c.Id, c]));
  const stuckBefore = Date.now() / 1000 - STUCK_CREATED_S;
  const stray = (c: { State: string; Created: number } | undefined) =>
    ENDED.has(c?.State ?? 'unknown') || (c?.State === 'created' && c.Created < stuckBefore);
  let processes = 0;
  for (const proc of candidates) {
    if (!proc.containerId || !stray(states.get(proc.containerId))) continue;
    const state = await docker
      .getContainer(proc.containerId)
      .inspect()
      .then((i) => i.State.Status as string)
      .catch((err: { statusCode?: number }) => (err.statusCode === 404 ? 'unknown' : 'unanswered'));
    if (!ENDED.has(state) && !(state === 'created' && stray(states.get(proc.containerId)))) continue;
    try {
      process.kill(proc.pid, 'SIGKILL');
      processes += 1;
      log.info({ pid: proc.pid, container: proc.containerId.slice(0, 12), state }, 'killed stray runsc process');
    } catch {
      // already gone
    }
  }
  return { containers, processes };
}

interface RunscProcess {
  pid: number;
  containerId: string | null;
}

/** runsc-sandbox ends its argv with the id; runsc-gofer carries it only inside --bundle and --log paths. */
const CONTAINER_ID = /(?:^|[^0-9a-f])([0-9a-f]{64})(?:$|[^0-9a-f])/;

/** runsc-sandbox / runsc-gofer processes on this host, with the container id found in their argv. */
export async function runscProcesses(procRoot = '/proc'): Promise<RunscProcess[]> {
  const found: RunscProcess[] = [];
  let entries: string[];
  try {
    entries = await readdir(procRoot);
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = await readFile(`${procRoot}/${entry}/cmdline`, 'utf8')
      .then((s) => s.split('\0').filter(Boolean))
      .catch(() => null);
    if (!argv?.[0]) continue;
    const name = argv[0].split('/').pop() ?? '';
    if (name !== 'runsc-sandbox' && name !== 'runsc-gofer') continue;
    const containerId =
      argv
        .map((a) => CONTAINER_ID.exec(a)?.[1])
        .filter((id): id is string => id !== undefined)
        .pop() ?? null;
    found.push({ pid: Number(entry), containerId });
  }
  return found;
}
