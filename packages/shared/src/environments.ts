/**
 * The sandbox environments: one image each (infra/sandbox/build-image.sh <name>, or the Dockerfile
 * with --build-arg ENVIRONMENT=<name>), whose supervisor preloads the environment's libraries before
 * its first fork, so that importing them in user code costs nothing.
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
}

export const ENVIRONMENT_SPECS: Record<Environment, EnvironmentSpec> = {
  python: {
    description: 'CPython and its standard library.',
    libraries: [],
    // 27-28 MB idle (sentry and supervisor, runsc 20240729), the 4 MB of address-space slack, growth.
    memoryShareMb: 48,
  },
  'python-data': {
    description: 'CPython with numpy, pandas and matplotlib (Agg) preloaded; figures come back as artifacts.',
    libraries: ['numpy', 'pandas', 'matplotlib'],
    // 139-142 MB idle with numpy, pandas and matplotlib preloaded (runsc 20240729), and the same
    // room as python's above it: 125 MB of np.ones peaked at 275 MB of the 304 MB cgroup.
    memoryShareMb: 176,
  },
};

export const isEnvironment = (name: string): name is Environment => (ENVIRONMENTS as readonly string[]).includes(name);

/** The environment's config key suffix, e.g. python-data → PYTHON_DATA (SBX_SANDBOX_IMAGE_PYTHON_DATA). */
export const environmentEnvSuffix = (env: Environment) => env.toUpperCase().replace(/-/g, '_');
