/**
 * The sandbox environments: one image each (infra/sandbox/build-image.sh <name>, or the Dockerfile
 * with --build-arg ENVIRONMENT=<name>), whose supervisor preloads the environment's libraries before
 * its first fork, so that importing them in user code costs nothing. Adding one is its name here, its
 * entry in ENVIRONMENT_SPECS and its files in infra/sandbox/environments/; its variables (image, pool
 * floor) follow from the entry by environmentVarName.
 */
export const ENVIRONMENTS = ['python', 'python-data'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

export const DEFAULT_ENVIRONMENT: Environment = 'python';

export interface EnvironmentSpec {
  description: string;
  /** Libraries whose versions GET /info reports (the image's /opt/sbx/versions.py prints them). */
  libraries: readonly string[];
  /**
   * The environment's own share of a sandbox's memory, added to the job's limit for the container's
   * cgroup: gVisor's sentry, the supervisor with what it preloaded, and room for the program's pages
   * to be counted. The job's limit itself is enforced inside on top of the preloaded libraries
   * (child.py, set_limits), so the cgroup must leave room for that to bind first.
   */
  memoryShareMb: number;
  /** Default of its sandbox image (SBX_SANDBOX_IMAGE, environmentVarName): the tag build-image.sh moves. */
  image: string;
  /** Default of its warm pool floor (SBX_POOL_MIN, environmentVarName): each idle sandbox costs its memory. */
  poolMin: number;
  /**
   * What one idle sandbox of it holds on the host, MB (sentry, supervisor, preloaded libraries, measured
   * with runsc 20240729): its warm pool counts its budget in these (SBX_POOL_MEMORY_MB).
   */
  idleMb: number;
  /** Default of its warm pool's memory budget (SBX_POOL_MEMORY_MB, environmentVarName), MB. */
  poolMemoryMb: number;
  /**
   * Default of SBX_CHECKPOINT (environmentVarName): its pool's sandboxes are restored from a checkpoint
   * taken after the preload instead of started cold, where that is cheaper (docs/benchmarks.md).
   */
  checkpoint: boolean;
}

export const ENVIRONMENT_SPECS: Record<Environment, EnvironmentSpec> = {
  python: {
    description: 'CPython and its standard library.',
    libraries: [],
    // 27-28 MB idle (sentry and supervisor, runsc 20240729), the 4 MB of address-space slack, growth.
    memoryShareMb: 48,
    image: 'sbx-python:latest',
    poolMin: 2,
    idleMb: 30,
    // Room for SBX_POOL_MAX's default of 32.
    poolMemoryMb: 1024,
    // A restore saves little here: 0.18 against 0.35 CPU-s, 228 against 386 ms (docs/benchmarks-restore.md),
    // for Docker's experimental API, 64 MB more cgroup per sandbox and a hash seed shared by every copy
    // in the environment most jobs use. SBX_CHECKPOINT=on takes that trade.
    checkpoint: false,
  },
  'python-data': {
    description: 'CPython with numpy, pandas and matplotlib (Agg) preloaded; figures come back as artifacts.',
    libraries: ['numpy', 'pandas', 'matplotlib'],
    // 139-142 MB idle with numpy, pandas and matplotlib preloaded (runsc 20240729), and the same
    // room as python's above it: 125 MB of np.ones peaked at 275 MB of the 304 MB cgroup.
    memoryShareMb: 176,
    image: 'sbx-python-data:latest',
    // Each holds its preloaded libraries: about 150 MB idle.
    poolMin: 1,
    idleMb: 150,
    // Ten ready after a burst of charts, each restored in about 0.3 CPU-s.
    poolMemoryMb: 1536,
    // The preload is most of a cold start (3.3 CPU-s): a restore skips it.
    checkpoint: true,
  },
};

export const isEnvironment = (name: string): name is Environment => (ENVIRONMENTS as readonly string[]).includes(name);

/** The environment's config key suffix, e.g. python-data → PYTHON_DATA (SBX_SANDBOX_IMAGE_PYTHON_DATA). */
export const environmentEnvSuffix = (env: Environment) => env.toUpperCase().replace(/-/g, '_');

/**
 * The variable of an environment's own setting: the default environment's is the bare name, which
 * predates environments (SBX_POOL_MIN), every other one's carries its suffix (SBX_POOL_MIN_PYTHON_DATA).
 */
export const environmentVarName = (base: string, env: Environment) =>
  env === DEFAULT_ENVIRONMENT ? base : `${base}_${environmentEnvSuffix(env)}`;
