import { ENVIRONMENT_SPECS, ENVIRONMENTS, type Environment, type ResolvedLimits, type WorkerConfig } from '@sbx/shared';
import type { ContainerCreateOptions } from 'dockerode';
import { BACKGROUND_CPU_SHARES } from './cpu-priority.js';
import { WIRE } from './wire.js';

export const LABELS = {
  managed: 'sbx.managed',
  /** The deployment (SBX_PREFIX): a janitor only ever touches its own deployment's sandboxes. */
  prefix: 'sbx.prefix',
  job: 'sbx.job',
  worker: 'sbx.worker',
  environment: 'sbx.environment',
} as const;

/** What a sandbox is made for: a job's limits, in an environment (python when absent). */
export type SandboxSpec = ResolvedLimits & { environment?: Environment };

export const environmentOf = (spec: SandboxSpec): Environment => spec.environment ?? 'python';

export interface SandboxSettings {
  /** The image of each environment. */
  images: Record<Environment, string>;
  runtime: string;
  tmpfsMb: number;
  nproc: number;
  pidsLimit: number;
  /** Largest file the program may write (RLIMIT_FSIZE), bytes. */
  fileSizeBytes: number;
  nofile: number;
  /**
   * CPU quota in cores. gVisor's own threads run in the same cgroup: at 1 core, a fork-heavy run
   * (a job's test cases) stalls on its quota and takes 60 % longer.
   */
  cpus: number;
  /** uid:gid the harness's supervisor starts as; the program itself always runs as PROGRAM_USER. */
  user: string;
}

/**
 * The supervisor is the sandbox's root (gVisor's own user namespace: nothing on the host) holding
 * only SUPERVISOR_CAPS. It never runs user code: each program is forked and dropped to PROGRAM_USER
 * with no capability before its job arrives (infra/sandbox/harness/supervisor.py). A program that
 * cannot signal its supervisor cannot end the sandbox without a report, so one that ends that way
 * was ended from outside, and is rerun rather than blamed on the code (classify.ts, lostBecause).
 */
export const DEFAULT_SANDBOX_USER = '0:0';
/** The uid:gid every program runs as (wire.json's program uid and gid, which the supervisor drops to). */
export const PROGRAM_USER = `${WIRE.program.uid}:${WIRE.program.gid}`;
/** To drop a child to PROGRAM_USER (SETUID, SETGID), and to kill it and what it left (KILL). */
export const SUPERVISOR_CAPS = ['SETUID', 'SETGID', 'KILL'] as const;

/** A deployment's sandbox settings: every runner of it (cold, pooled, self-check) starts the same container. */
export function sandboxSettingsFromConfig(
  config: Pick<WorkerConfig, 'sandboxes' | 'runtime' | 'tmpfsMb' | 'nproc' | 'pidsLimit' | 'sandboxCpus'>,
): SandboxSettings {
  return {
    images: Object.fromEntries(ENVIRONMENTS.map((e) => [e, config.sandboxes[e].image])) as Record<Environment, string>,
    runtime: config.runtime,
    tmpfsMb: config.tmpfsMb,
    nproc: config.nproc,
    pidsLimit: config.pidsLimit,
    // The program's own fds; the harness needs a handful of its own.
    nofile: 256,
    cpus: config.sandboxCpus,
    // No single file can outgrow the tmpfs it lives on.
    fileSizeBytes: config.tmpfsMb * 1024 * 1024,
    user: DEFAULT_SANDBOX_USER,
  };
}

/**
 * The cgroup's memory is the job's limit plus the environment's share (ENVIRONMENT_SPECS). The limit
 * itself is enforced inside, by RLIMIT_AS on what the program maps on top of the harness and its
 * preloaded libraries (child.py, set_limits), so that an allocation past it is the program's own
 * MemoryError; the cgroup leaves room for that to happen first and stays the floor for memory no
 * mapping accounts for.
 */
export const sandboxMemoryMb = (spec: SandboxSpec) =>
  spec.memory_mb + ENVIRONMENT_SPECS[environmentOf(spec)].memoryShareMb;

/**
 * The whole security posture of a sandbox container in one place. Every flag
 * here is load-bearing; test/sandbox/sandbox-floor.test.ts proves each.
 */
export function buildContainerSpec(
  settings: SandboxSettings,
  limits: SandboxSpec,
  labels: { jobId: string; workerId: string; prefix: string },
  /** Started ahead of demand: the lowest CPU weight until a job takes it (see cpu-priority.ts). */
  background = false,
): ContainerCreateOptions {
  const memoryBytes = sandboxMemoryMb(limits) * 1024 * 1024;
  return {
    Image: settings.images[environmentOf(limits)],
    // The image's CMD starts the harness; the code arrives on stdin, never on argv.
    User: settings.user,
    WorkingDir: '/tmp',
    // Replaces the image env entirely below: nothing from the host leaks in.
    // MALLOC_ARENA_MAX=1: glibc reserves 64 MB of address space per extra thread arena, which RLIMIT_AS (the memory limit) would charge to a program that starts a thread.
    Env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'LANG=C.UTF-8', 'HOME=/tmp', 'MALLOC_ARENA_MAX=1'],
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: true,
    StdinOnce: true,
    Tty: false,
    NetworkDisabled: true,
    Labels: {
      [LABELS.managed]: '1',
      [LABELS.prefix]: labels.prefix,
      [LABELS.job]: labels.jobId,
      [LABELS.worker]: labels.workerId,
      [LABELS.environment]: environmentOf(limits),
    },
    HostConfig: {
      Runtime: settings.runtime,
      NetworkMode: 'none',
      ReadonlyRootfs: true,
      Tmpfs: { '/tmp': `rw,noexec,nosuid,nodev,size=${settings.tmpfsMb}m,mode=1777` },
      // /dev/shm is a second tmpfs: as small as /tmp (its pages count against the memory limit either way).
      ShmSize: settings.tmpfsMb * 1024 * 1024,
      CapDrop: ['ALL'],
      CapAdd: [...SUPERVISOR_CAPS],
      SecurityOpt: ['no-new-privileges'],
      Memory: memoryBytes,
      MemorySwap: memoryBytes,
      // gVisor's own threads live in this cgroup: this is a backstop, nproc is the real fork cap.
      PidsLimit: settings.pidsLimit,
      NanoCpus: settings.cpus * 1_000_000_000,
      ...(background ? { CpuShares: BACKGROUND_CPU_SHARES } : {}),
      Ulimits: [
        { Name: 'nproc', Soft: settings.nproc, Hard: settings.nproc },
        { Name: 'nofile', Soft: settings.nofile, Hard: settings.nofile },
        { Name: 'fsize', Soft: settings.fileSizeBytes, Hard: settings.fileSizeBytes },
        { Name: 'core', Soft: 0, Hard: 0 },
      ],
      // User output must never reach the host's disk through a log driver.
      LogConfig: { Type: 'none', Config: {} },
      // Results (OOMKilled, ExitCode) must survive exit: the worker removes it after inspecting.
      AutoRemove: false,
      Privileged: false,
      IpcMode: 'private',
      Init: false,
    },
  };
}
