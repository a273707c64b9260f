import { createHash, randomBytes } from 'node:crypto';
import { chmod, cp, mkdir, readdir, rename, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Environment } from '@sbx/shared';
import type Docker from 'dockerode';
import type { ContainerCreateOptions } from 'dockerode';
import { buildContainerSpec, environmentOf, type SandboxSettings, type SandboxSpec } from './container-spec.js';
import { ReadyGate } from './ready-gate.js';

/**
 * A started sandbox frozen while its supervisor waits for a job (after the environment's preload),
 * from which new containers are restored instead of started cold. Every restored copy is a new
 * container with its own cgroup, tmpfs and lifetime, used once, as a cold one is: only the memory
 * image is shared, and the harness gives each copy fresh randomness before the program's first line
 * (child.py, reseed). Docker can restore only with `"experimental": true`, and only a checkpoint
 * found in the new container's own folder: symbolic links to the store are put there before the start.
 */
export interface Checkpoint {
  environment: Environment;
  /** The job memory limit it was taken with: only sandboxes for that limit restore from it. */
  memoryMb: number;
  /** What it was made from (checkpointKey): the folder's name, and the name Docker starts it by. */
  key: string;
  /** Its files, in the store (SBX_CHECKPOINT_DIR/<key>). */
  dir: string;
  /** The runtime it is taken in: SBX_CHECKPOINT_RUNTIME's (uncompressed) when the engine has it. */
  takenWith: string;
}

/** Why an environment starts cold: said once in the log and as a metric label. */
export type ColdReason = 'off' | 'not_experimental' | 'no_docker_root' | 'build_failed' | 'restore_failed';

/** sbx_sandbox_checkpoint_state's states: restoring, or why not. */
export const CHECKPOINT_STATES: readonly ('restore' | ColdReason)[] = [
  'restore',
  'off',
  'not_experimental',
  'no_docker_root',
  'build_failed',
  'restore_failed',
];

/**
 * Added to a restored sandbox's cgroup. Restored, a python-data sandbox holds about 50 MB more than
 * started cold (measured idle: 193 MB against 144 MB, all of it in runsc's own RSS: what loading the
 * image left it), which would leave a program less room than its limit promises: 100 MB of numpy under
 * a 128 MB limit was OOM-killed. The limit itself is the harness's RLIMIT_AS, which this does not touch.
 */
export const RESTORE_HEADROOM_MB = 64;

/** Written last, in the store's folder only: a folder without it is a take that did not finish. */
const COMPLETE = '.complete';
/** In a restored container's copy only: which copy it is (installCheckpoint). */
const COPY_MARKER = '.copy';
/** A checkpoint no worker of the host verified for this long is removed (prune). */
const UNUSED_CHECKPOINT_MS = 7 * 86_400_000;
/** A take's folder left this long was a worker's that died while taking it. */
const PARTIAL_TAKE_MS = 3_600_000;

/** What a checkpoint depends on: a new image, harness (in the image), runtime or container spec makes a new one. */
export function checkpointKey(parts: {
  imageId: string;
  runtime: unknown;
  spec: ContainerCreateOptions;
  dockerVersion: string;
}): string {
  // Labels name the job and the worker; CPU shares differ for a pool's background starts. Neither is
  // inside the sandbox, so neither may split the checkpoints.
  const { Labels: _labels, HostConfig, ...rest } = parts.spec;
  const { CpuShares: _shares, ...host } = HostConfig ?? {};
  const material = JSON.stringify({ ...parts, spec: { ...rest, HostConfig: host } });
  return `sbx-${createHash('sha256').update(material).digest('hex').slice(0, 24)}`;
}

type Checkpointable = Docker.Container & {
  createCheckpoint(opts: { CheckpointID: string; Exit: boolean }): Promise<unknown>;
};

/** Docker's own folder for a container's checkpoints, where `start --checkpoint` looks. */
export const containerCheckpointDir = (dockerRoot: string, containerId: string, key: string) =>
  join(dockerRoot, 'containers', containerId, 'checkpoints', key);

/**
 * Symbolic links to the store's files, not the files: Docker 20.10 tars the container's checkpoint
 * folder into containerd's content store on each start and containerd unpacks it again for runsc,
 * which cost dockerd and containerd 0.65 CPU-s for a 31 MB checkpoint (2 CPU-s uncompressed). The
 * tar keeps the links as links and runsc, on the host, follows them into the store: about 0.03.
 */
export async function installCheckpoint(from: string, to: string, copyId: string): Promise<void> {
  await linkTree(from, to);
  // Docker 20.10 uploads the checkpoint folder, as a tar, into containerd's content store on each
  // start, under the tar's digest, and deletes it once the task exists: two restores of one checkpoint
  // at once collided on that digest ("already exists", or the content deleted under the other). A
  // file naming the copy makes each upload's digest its own, so restores can run side by side.
  await writeFile(join(to, COPY_MARKER), `${copyId}\n`);
}

async function linkTree(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const entry of await readdir(from, { withFileTypes: true })) {
    if (entry.name === COMPLETE) continue;
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) await linkTree(source, target);
    else await symlink(source, target);
  }
}

export interface CheckpointBuilderOptions {
  docker: Docker;
  settings: SandboxSettings;
  /** SBX_CHECKPOINT_DIR. */
  dir: string;
  /**
   * SBX_CHECKPOINT_RUNTIME: the runtime the sandbox checkpointed runs in, when the engine has it (else
   * the sandbox runtime). Restores use the sandbox runtime whatever took the checkpoint.
   */
  takeRuntime?: string;
  labels: { workerId: string; prefix: string };
  /** Longest the sandbox checkpointed may take to become ready. Default 60 s. */
  readyTimeoutMs?: number;
}

/** Finds the checkpoint for an environment's pool limits in the store, or takes one. */
export class CheckpointBuilder {
  constructor(private readonly opts: CheckpointBuilderOptions) {}

  /** The engine's data root, or a reason it cannot restore here. */
  async engineSupport(): Promise<{ dockerRoot: string } | { cold: ColdReason }> {
    const { docker } = this.opts;
    const info = (await docker.info()) as { DockerRootDir?: string; ExperimentalBuild?: boolean };
    if (info.ExperimentalBuild !== true) return { cold: 'not_experimental' };
    const root = info.DockerRootDir ?? '';
    const reachable = await stat(join(root, 'containers')).then(
      (s) => s.isDirectory(),
      () => false,
    );
    return reachable ? { dockerRoot: root } : { cold: 'no_docker_root' };
  }

  /**
   * The checkpoint for `limits`, taken now unless the store has it already (or `retake`: the stored one
   * did not restore). `taken`: it was taken by this call.
   */
  async checkpointFor(
    limits: SandboxSpec,
    dockerRoot: string,
    retake = false,
  ): Promise<{ checkpoint: Checkpoint; taken: boolean }> {
    const { docker, settings, dir, labels } = this.opts;
    const environment = environmentOf(limits);
    const spec = buildContainerSpec(settings, limits, { jobId: 'checkpoint', ...labels });
    const image = await docker.getImage(settings.images[environment]).inspect();
    const info = (await docker.info()) as { Runtimes?: Record<string, unknown>; ServerVersion?: string };
    const takeRuntime = this.opts.takeRuntime;
    const takenWith = takeRuntime && info.Runtimes?.[takeRuntime] ? takeRuntime : settings.runtime;
    const key = checkpointKey({
      imageId: image.Id,
      runtime: { restore: await runtimeIdentity(info, settings.runtime), take: await runtimeIdentity(info, takenWith) },
      spec,
      dockerVersion: info.ServerVersion ?? '',
    });
    const stored = join(dir, key);
    const checkpoint = { environment, memoryMb: limits.memory_mb, key, dir: stored, takenWith };
    if (!retake && (await exists(join(stored, COMPLETE)))) return { checkpoint, taken: false };
    await this.take({ ...spec, HostConfig: { ...spec.HostConfig, Runtime: takenWith } }, key, dockerRoot, stored);
    return { checkpoint, taken: true };
  }

  /**
   * Marks `inUse` as used now, and removes what no worker of this host has used for a week (an older
   * image's, runtime's or limits') and takes that never finished. Never throws.
   */
  async prune(inUse: string, now = Date.now()): Promise<void> {
    const { dir } = this.opts;
    const seconds = now / 1000;
    await utimes(join(dir, inUse, COMPLETE), seconds, seconds).catch(() => {});
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (name === inUse) continue;
      const partial = name.endsWith('.partial');
      const since = await stat(partial ? join(dir, name) : join(dir, name, COMPLETE)).then(
        (s) => s.mtimeMs,
        () => 0,
      );
      if (now - since > (partial ? PARTIAL_TAKE_MS : UNUSED_CHECKPOINT_MS))
        await rm(join(dir, name), { recursive: true, force: true }).catch(() => {});
    }
  }

  /** Starts a sandbox, waits for its harness, checkpoints it (which stops it) and keeps the files. */
  private async take(spec: ContainerCreateOptions, key: string, dockerRoot: string, stored: string): Promise<void> {
    const { docker } = this.opts;
    const container = await docker.createContainer(spec);
    try {
      const stream = (await container.attach({
        stream: true,
        stdin: true,
        stdout: true,
        stderr: true,
        hijack: true,
      })) as Duplex;
      stream.on('error', () => {});
      const gate = new ReadyGate(stream);
      await container.start();
      const timeout = this.opts.readyTimeoutMs ?? 60_000;
      const ready = await Promise.race([gate.ready, delay(timeout).then(() => false)]);
      if (!ready) throw new Error('the sandbox to checkpoint did not become ready');
      // Docker's experimental checkpoint API, which dockerode has but does not type. Exit: the sandbox stops.
      // A name of its own: two workers of one host taking the same checkpoint at once collide in
      // containerd under one name (seen: "failed to Lchown .../checkpoint.img"). Restores use `key`.
      const name = `${key}-${randomBytes(4).toString('hex')}`;
      await (container as Checkpointable).createCheckpoint({ CheckpointID: name, Exit: true });
      const partial = `${stored}.${name}.partial`;
      await cp(containerCheckpointDir(dockerRoot, container.id, name), partial, { recursive: true });
      await writeMarker(partial);
      // What is in it becomes the memory of every sandbox restored from it: root's alone, whatever cp made.
      await chmod(partial, 0o700);
      await rm(stored, { recursive: true, force: true });
      await rename(partial, stored);
      stream.destroy();
    } finally {
      await container.remove({ force: true }).catch(() => {});
    }
  }
}

async function writeMarker(dir: string): Promise<void> {
  await writeFile(join(dir, COMPLETE), `${new Date().toISOString()}\n`);
}

/** A runtime's registration and binary (an upgrade in place keeps its path): its size and time, where the worker sees it. */
async function runtimeIdentity(info: { Runtimes?: Record<string, unknown> }, name: string) {
  const registered = info.Runtimes?.[name] as { path?: string } | undefined;
  return { name, registered: registered ?? null, binary: await fileIdentity(registered?.path) };
}

const fileIdentity = (path: string | undefined) =>
  path
    ? stat(path).then(
        (s) => `${s.size}:${s.mtimeMs}`,
        () => null,
      )
    : null;

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
