import { hostname } from 'node:os';
import {
  DEFAULT_ENVIRONMENT,
  ENVIRONMENT_SPECS,
  ENVIRONMENTS,
  type Environment,
  environmentVarName,
  isEnvironment,
} from './environments.js';
import { GVISOR } from './gvisor.js';
import { POLICIES, type Policy } from './status.js';

export class ConfigError extends Error {
  readonly code = 'invalid_config';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** Whether a listen address is reachable only from this host. */
export const isLoopbackHost = (host: string): boolean => LOOPBACK.test(host);

interface VarSpec<T> {
  name: string;
  doc: string;
  /** Shown in docs/configuration.md; `undefined` means "derived", explained in doc. */
  default: string | undefined;
  parse: (raw: string | undefined, env: Env) => T;
}

function int(name: string, def: number, doc: string, min = 0): VarSpec<number> {
  return {
    name,
    doc,
    default: String(def),
    parse: (raw) => {
      if (raw === undefined || raw === '') return def;
      if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
      const value = Number(raw);
      if (value < min) throw new ConfigError(`${name} must be at least ${min}, got ${value}`);
      return value;
    },
  };
}

function str(name: string, def: string, doc: string): VarSpec<string> {
  return { name, doc, default: def, parse: (raw) => (raw === undefined || raw === '' ? def : raw) };
}

function onOff(name: string, def: boolean, doc: string): VarSpec<boolean> {
  return {
    name,
    doc,
    default: def ? 'on' : 'off',
    parse: (raw) => {
      if (raw === undefined || raw === '') return def;
      if (raw === 'on' || raw === 'off') return raw === 'on';
      throw new ConfigError(`${name} must be on or off, got "${raw}"`);
    },
  };
}

function list(name: string, doc: string): VarSpec<string[]> {
  return {
    name,
    doc,
    default: '',
    parse: (raw) =>
      (raw ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
  };
}

export interface SentinelAddress {
  host: string;
  port: number;
}

/** `host:port,[v6]:port`: the port is required, a Sentinel has no default one worth guessing. */
function parseSentinels(raw: string): SentinelAddress[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(entry);
      const port = Number(m?.[3]);
      const host = m?.[1] ?? m?.[2];
      if (!host || !(port >= 1 && port <= 65_535))
        throw new ConfigError(`SBX_REDIS_SENTINELS: "${entry}" is not host:port`);
      return { host, port };
    });
}

/**
 * The variables both apps read. Each process parses only its own slice and this one, so that a
 * variable of the other app's, unset or wrong, never stops it from starting. The tenants' variables
 * are here because the worker builds the tenants too, for their webhook secrets (TenantsConfig).
 */
const SHARED_VARS = {
  redisUrl: str('SBX_REDIS_URL', 'redis://127.0.0.1:6379', 'Redis for the queue, results and heartbeats.'),
  redisSentinels: {
    name: 'SBX_REDIS_SENTINELS',
    doc: 'Redis Sentinels (comma list of host:port); set, the primary is asked of them and SBX_REDIS_URL gives only its password and db.',
    default: '',
    parse: (raw: string | undefined) => parseSentinels(raw ?? ''),
  } satisfies VarSpec<SentinelAddress[]>,
  redisSentinelName: str(
    'SBX_REDIS_SENTINEL_NAME',
    'sbx',
    'Master name the Sentinels watch (their `sentinel monitor <name>`).',
  ),
  redisSentinelPassword: str('SBX_REDIS_SENTINEL_PASSWORD', '', 'Password of the Sentinels themselves (empty: none).'),
  redisWaitReplicas: int(
    'SBX_REDIS_WAIT_REPLICAS',
    0,
    'Replicas that must hold an accepted job (and a stored result) before it is acknowledged, by Redis WAIT (0 = off); short: 503 not_replicated.',
  ),
  redisWaitTimeoutMs: int(
    'SBX_REDIS_WAIT_TIMEOUT_MS',
    500,
    'How long WAIT waits for those replicas before giving up.',
    1,
  ),
  prefix: str('SBX_PREFIX', 'sbx', 'Prefix of every Redis key (BullMQ and our own).'),
  queueName: str('SBX_QUEUE', 'runs', 'BullMQ queue name.'),
  resultTtlSeconds: int('SBX_RESULT_TTL_SECONDS', 86_400, 'How long results stay readable.', 1),
  defaultTimeMs: int('SBX_DEFAULT_TIME_MS', 2000, 'Time limit when a job asks for none.', 1),
  maxTimeMs: int('SBX_MAX_TIME_MS', 2000, 'Largest time limit a job may ask for.', 1),
  defaultMemoryMb: int('SBX_DEFAULT_MEMORY_MB', 128, 'Memory limit when a job asks for none.', 1),
  maxMemoryMb: int('SBX_MAX_MEMORY_MB', 128, 'Largest memory limit a job may ask for.', 1),
  maxOutputBytes: int(
    'SBX_MAX_OUTPUT_BYTES',
    1_048_576,
    'Output cap: stdout+stderr bytes kept before the run is stopped.',
    1,
  ),
  environments: {
    name: 'SBX_ENVIRONMENTS',
    doc: `Environments served, and built by \`npm run up\` (comma list of ${ENVIRONMENTS.join(', ')}); others are refused with environment_not_available.`,
    default: ENVIRONMENTS.join(','),
    parse: (raw: string | undefined) => {
      const names = (raw || ENVIRONMENTS.join(','))
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      for (const n of names)
        if (!isEnvironment(n))
          throw new ConfigError(`SBX_ENVIRONMENTS: unknown environment "${n}" (known: ${ENVIRONMENTS.join(', ')})`);
      if (names.length === 0) throw new ConfigError('SBX_ENVIRONMENTS must name at least one environment');
      return [...new Set(names)] as Environment[];
    },
  } satisfies VarSpec<Environment[]>,
  maxArtifacts: int(
    'SBX_MAX_ARTIFACTS',
    16,
    'Most artifacts (figures, output files) one result carries (output_limit above).',
    0,
  ),
  maxArtifactBytes: int(
    'SBX_MAX_ARTIFACT_BYTES',
    4_194_304,
    'Raw bytes of all artifacts of one result together (output_limit above; what fit is kept).',
    0,
  ),
  webhookSecret: str(
    'SBX_WEBHOOK_SECRET',
    '',
    'Standard Webhooks signing secret (whsec_…). Empty: callback_url is refused with webhooks_not_configured.',
  ),
  webhookAllowlist: list(
    'SBX_WEBHOOK_ALLOWLIST',
    'CIDRs webhook targets may resolve to although private/loopback/link-local (e.g. 127.0.0.0/8 for tests).',
  ),
  webhookMaxAttempts: int('SBX_WEBHOOK_MAX_ATTEMPTS', 12, 'Delivery attempts before a webhook is failed.', 1),
  webhookBaseDelayMs: int(
    'SBX_WEBHOOK_BASE_DELAY_MS',
    5000,
    'First retry delay; doubles each attempt, with jitter.',
    1,
  ),
  webhookMaxDelayMs: int(
    'SBX_WEBHOOK_MAX_DELAY_MS',
    7_200_000,
    'Longest delay between attempts (and cap on Retry-After).',
    1,
  ),
  webhookTimeoutMs: int('SBX_WEBHOOK_TIMEOUT_MS', 10_000, 'Timeout of one delivery attempt.', 100),
  tenantsFile: str(
    'SBX_TENANTS_FILE',
    '',
    'JSON file of tenants: id, key_sha256 list, own maxima, rate and queue cap.',
  ),
  ratePerMinute: int('SBX_RATE_PER_MINUTE', 600, 'Requests per minute per tenant (429 with Retry-After above).', 1),
  maxQueuedPerTenant: int(
    'SBX_MAX_QUEUED_PER_TENANT',
    1000,
    'Jobs one tenant may have waiting (429 tenant_queue_full above, with Retry-After).',
    1,
  ),
  maxRunningPerTenant: int(
    'SBX_MAX_RUNNING_PER_TENANT',
    0,
    "Jobs one tenant may have running at once, fleet-wide (0: no cap). Below the fleet's slots, one tenant's long jobs always leave a slot for another tenant's next job.",
    0,
  ),
  maxStoredMbPerTenant: int(
    'SBX_MAX_STORED_MB_PER_TENANT',
    1024,
    'MiB one tenant may have stored within SBX_RESULT_TTL_SECONDS: job bodies, results and artifacts (429 storage_quota above, with Retry-After).',
    1,
  ),
  interactiveStreak: int(
    'SBX_INTERACTIVE_STREAK',
    4,
    'Interactive starts in a row, fleet-wide, after which the batch job due next goes first: batch work is never starved.',
    1,
  ),
  apiKeys: list('SBX_API_KEYS', 'Comma-separated bearer keys. Empty: auth off and the API binds to loopback only.'),
  workerStaleMs: int('SBX_WORKER_STALE_MS', 15_000, 'A worker unseen for longer is gone, for /readyz.', 1),
  logLevel: str('SBX_LOG_LEVEL', 'info', 'pino log level.'),
} as const;

/** The variables only the API reads. */
const API_VARS = {
  minMemoryMb: int('SBX_MIN_MEMORY_MB', 64, 'Smallest memory limit a job may ask for (gVisor needs headroom).', 1),
  maxCodeBytes: int('SBX_MAX_CODE_BYTES', 65_536, 'Largest accepted source, in UTF-8 bytes (413 above).', 1),
  maxStdinBytes: int('SBX_MAX_STDIN_BYTES', 1_048_576, 'Largest accepted stdin, in UTF-8 bytes (413 above).', 0),
  maxTests: int('SBX_MAX_TESTS', 50, 'Most test cases one job may carry.', 1),
  allowedPolicies: {
    name: 'SBX_ALLOWED_POLICIES',
    doc: 'Policy profiles callers may ask for (comma list of strict, standard).',
    default: 'strict,standard',
    parse: (raw: string | undefined) => {
      const names = (raw || 'strict,standard')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      for (const n of names)
        if (!(POLICIES as readonly string[]).includes(n))
          throw new ConfigError(`SBX_ALLOWED_POLICIES: unknown profile "${n}" (known: ${POLICIES.join(', ')})`);
      if (names.length === 0) throw new ConfigError('SBX_ALLOWED_POLICIES must name at least one profile');
      return names as Policy[];
    },
  } satisfies VarSpec<Policy[]>,
  maxQueued: int(
    'SBX_MAX_QUEUED',
    10_000,
    'Jobs waiting in all, every tenant and lane together (503 queue_full above, with Retry-After).',
    1,
  ),
  apiHost: {
    name: 'SBX_API_HOST',
    doc: 'Listen address. Defaults to 0.0.0.0 with keys set (SBX_API_KEYS or SBX_TENANTS_FILE), 127.0.0.1 without; without keys only loopback is allowed.',
    default: undefined,
    parse: (raw: string | undefined, env: Env) => {
      // A tenants file holds keys too: an API with only tenants is as authenticated as one with
      // SBX_API_KEYS, and must be able to listen where the other hosts reach it.
      const keyed =
        (env.SBX_API_KEYS ?? '').split(',').some((k) => k.trim() !== '') || (env.SBX_TENANTS_FILE ?? '').trim() !== '';
      if (!raw) return keyed ? '0.0.0.0' : '127.0.0.1';
      if (!keyed && !LOOPBACK.test(raw))
        throw new ConfigError(
          `SBX_API_HOST=${raw} would expose an API without authentication: set SBX_API_KEYS or SBX_TENANTS_FILE`,
        );
      return raw;
    },
  } satisfies VarSpec<string>,
  apiPort: int('SBX_API_PORT', 3000, 'Listen port of the API.'),
  apiMetricsPort: int('SBX_API_METRICS_PORT', 9465, 'Port of the API /metrics endpoint (0 = off); never the API port.'),
  apiMetricsHost: str('SBX_API_METRICS_HOST', '127.0.0.1', 'Listen address of the API /metrics endpoint.'),
  corsOrigins: list(
    'SBX_CORS_ORIGINS',
    'Browser origins allowed to call the API (comma list, or * for any); empty: no CORS headers.',
  ),
  pistonApi: onOff(
    'SBX_PISTON_API',
    true,
    "Piston v2's routes (POST /api/v2/execute, GET /api/v2/runtimes, the /api/v2/connect WebSocket, the same under /api/v2/piston/), with the same auth, admission and lanes as POST /run (docs/compat.md).",
  ),
  judge0Api: onOff(
    'SBX_JUDGE0_API',
    true,
    'Judge0 CE 1.13 routes (/submissions, /languages, ...: docs/compat.md). On by default: a Judge0 client then needs only our base URL, and its jobs meet the same keys, limits and queues as ours.',
  ),
  judge0Prefix: {
    name: 'SBX_JUDGE0_PREFIX',
    doc: "Path prefix of the Judge0 routes (e.g. /judge0); empty: Judge0's own paths on our base URL.",
    default: '',
    parse: (raw: string | undefined) => {
      const prefix = (raw ?? '').trim().replace(/\/+$/, '');
      if (prefix !== '' && !/^\/[\w./-]*$/.test(prefix))
        throw new ConfigError(`SBX_JUDGE0_PREFIX must be a path that starts with /, got "${raw}"`);
      return prefix;
    },
  } satisfies VarSpec<string>,
  runWaitMs: int('SBX_RUN_WAIT_MS', 60_000, 'How long POST /run waits before answering 202 with the job id.', 1),
  maxViewers: int(
    'SBX_MAX_VIEWERS',
    1000,
    'Live event streams (GET /jobs/:id/events, streamed POST /run) one API process serves at once; each holds a Redis connection. More: 429 too_many_viewers.',
    1,
  ),
  maxViewersPerTenant: int(
    'SBX_MAX_VIEWERS_PER_TENANT',
    50,
    "Live event streams one tenant may hold open on one API process; one tenant cannot take every other tenant's.",
    1,
  ),
  interactiveWallMs: int(
    'SBX_INTERACTIVE_WALL_MS',
    60_000,
    'Wall-clock bound of an interactive job, taken into the job when it is queued (its time limit still bounds its CPU time).',
    1,
  ),
  interactiveIdleMs: int(
    'SBX_INTERACTIVE_IDLE_MS',
    30_000,
    'An interactive job that gets no new input for this long (before its eof) ends with timeout; taken into the job when it is queued.',
    1,
  ),
  stdinMaxCallBytes: int(
    'SBX_STDIN_MAX_CALL_BYTES',
    65_536,
    'Largest `data` of one POST /jobs/:id/stdin, in UTF-8 bytes (413 payload_too_large above).',
    1,
  ),
  stdinMaxBytes: int(
    'SBX_STDIN_MAX_BYTES',
    1_048_576,
    "Input one interactive job may get through POST /jobs/:id/stdin, in UTF-8 bytes, besides its body's stdin (413 payload_too_large above).",
    0,
  ),
} as const;

/** The variables only the worker reads, besides each environment's (SANDBOX_VARS). */
const WORKER_VARS = {
  policyLayer: {
    name: 'SBX_POLICY_LAYER',
    doc: 'Worker: `off` disables the Python policy layer to prove the container floor alone (tests only).',
    default: 'on',
    parse: (raw: string | undefined) => {
      if (raw === undefined || raw === '' || raw === 'on') return 'on' as const;
      if (raw === 'off') return 'off' as const;
      throw new ConfigError(`SBX_POLICY_LAYER must be on or off, got "${raw}"`);
    },
  } satisfies VarSpec<'on' | 'off'>,
  selfCheck: {
    name: 'SBX_SELF_CHECK',
    doc: 'Worker: run the sandbox canaries at start and take no jobs if one fails (`on` or `off`).',
    default: 'on',
    parse: (raw: string | undefined) => {
      if (raw === undefined || raw === '' || raw === 'on') return true;
      if (raw === 'off') return false;
      throw new ConfigError(`SBX_SELF_CHECK must be on or off, got "${raw}"`);
    },
  } satisfies VarSpec<boolean>,
  workerId: {
    name: 'SBX_WORKER_ID',
    doc: 'Identity in heartbeats and container labels. Default: hostname-pid.',
    default: undefined,
    parse: (raw: string | undefined) => raw || `${hostname()}-${process.pid}`,
  } satisfies VarSpec<string>,
  concurrency: int('SBX_WORKER_CONCURRENCY', 2, 'Jobs one worker runs at once.', 1),
  checkpointDir: str(
    'SBX_CHECKPOINT_DIR',
    '/var/lib/sbx/checkpoints',
    "Worker: where sandbox checkpoints are kept (about 105 MB each, one per environment, image and limits; 35 MB compressed). A restore puts symbolic links to them in the new container's folder.",
  ),
  checkpointRuntime: str(
    'SBX_CHECKPOINT_RUNTIME',
    'runsc-checkpoint',
    "Worker: the runtime a checkpoint is taken in: the sandbox runtime's binary and flags, registered by ensure-host.sh with uncompressed checkpoints (a restore costs a third). When the engine has no such runtime, checkpoints are taken with SBX_SANDBOX_RUNTIME, compressed.",
  ),
  poolMax: int(
    'SBX_POOL_MAX',
    32,
    'Warm pool ceiling: each job of the last minute that found no warm sandbox adds one, up to this (0 = cold only).',
  ),
  poolStarts: int('SBX_POOL_STARTS', 2, 'Pool sandboxes started at once; each start costs 0.3-1 CPU-s, by machine.', 1),
  metricsPort: int('SBX_WORKER_METRICS_PORT', 9464, 'Port of the worker /metrics endpoint (0 = off).'),
  metricsHost: str('SBX_WORKER_METRICS_HOST', '127.0.0.1', 'Listen address of the worker /metrics endpoint.'),
  runtime: str(
    'SBX_SANDBOX_RUNTIME',
    'runsc',
    'OCI runtime. Anything but runsc is logged as a warning on every start.',
  ),
  runscMinRelease: {
    name: 'SBX_RUNSC_MIN_RELEASE',
    doc: 'Worker: oldest runsc release (YYYYMMDD) the self-check accepts; lower it only to stay on an older gVisor knowingly.',
    default: GVISOR.minRelease,
    parse: (raw: string | undefined) => {
      if (raw === undefined || raw === '') return GVISOR.minRelease;
      if (!/^20\d{6}$/.test(raw.trim()))
        throw new ConfigError(`SBX_RUNSC_MIN_RELEASE must be a release date like ${GVISOR.minRelease}, got "${raw}"`);
      return raw.trim();
    },
  } satisfies VarSpec<string>,
  dockerSocket: str('SBX_DOCKER_SOCKET', '/var/run/docker.sock', 'Docker engine socket.'),
  dockerWaitMs: int(
    'SBX_DOCKER_WAIT_MS',
    60_000,
    'Worker: how long a run lost to an unreachable Docker engine waits for it before its retry is spent.',
    0,
  ),
  sandboxCpus: int(
    'SBX_SANDBOX_CPUS',
    2,
    'CPU quota of each sandbox, in cores (gVisor threads count: 1 slows forks).',
    1,
  ),
  tmpfsMb: int('SBX_TMPFS_MB', 16, 'Size of the noexec /tmp inside each sandbox.', 1),
  nproc: int('SBX_NPROC', 64, 'RLIMIT_NPROC for the sandbox user (threads count too).', 1),
  pidsLimit: int('SBX_PIDS_LIMIT', 1024, 'Host pids cgroup backstop; gVisor threads count, keep it high.', 128),
  wallGraceMs: int('SBX_WALL_GRACE_MS', 1500, 'Extra time before the worker kills the container itself.', 0),
  lockDurationMs: int(
    'SBX_LOCK_DURATION_MS',
    15_000,
    "BullMQ job lock; a dead worker's job is retaken after it.",
    1000,
  ),
  stalledIntervalMs: int('SBX_STALLED_INTERVAL_MS', 5000, 'How often workers look for stalled jobs.', 500),
  shutdownTimeoutMs: int('SBX_SHUTDOWN_TIMEOUT_MS', 15_000, 'On SIGTERM, how long in-flight jobs may finish.', 0),
  heartbeatMs: int('SBX_HEARTBEAT_MS', 5000, 'Worker heartbeat period.', 100),
} as const;

type Parsed<T> = { [K in keyof T]: T[K] extends VarSpec<infer V> ? V : never };

/** What a worker runs one environment's sandboxes with. */
export interface SandboxConfig {
  image: string;
  /** Warm pool floor: started sandboxes each worker keeps for the environment's default-limit jobs. */
  poolMin: number;
  /** Most memory its warm pool holds, MB, counted at ENVIRONMENT_SPECS' idleMb per sandbox. */
  poolMemoryMb: number;
  /** Whether its pool's sandboxes are restored from a checkpoint when the engine allows it. */
  checkpoint: boolean;
}

/** One environment's variables, named and defaulted from its ENVIRONMENT_SPECS entry. */
function sandboxVars(env: Environment): { [K in keyof SandboxConfig]: VarSpec<SandboxConfig[K]> } {
  const spec = ENVIRONMENT_SPECS[env];
  return {
    image: str(
      environmentVarName('SBX_SANDBOX_IMAGE', env),
      spec.image,
      `Sandbox image of the ${env} environment (infra/sandbox/build-image.sh ${env}).`,
    ),
    poolMin: int(
      environmentVarName('SBX_POOL_MIN', env),
      spec.poolMin,
      `Warm pool floor of the ${env} environment: started sandboxes each worker keeps for default-limit jobs.`,
    ),
    poolMemoryMb: int(
      environmentVarName('SBX_POOL_MEMORY_MB', env),
      spec.poolMemoryMb,
      `Memory budget of the ${env} environment's warm pool, MB: it holds at most this divided by an idle sandbox's ${spec.idleMb} MB (and SBX_POOL_MAX at most), however high demand goes; 0 keeps no pool for it.`,
      0,
    ),
    checkpoint: onOff(
      environmentVarName('SBX_CHECKPOINT', env),
      spec.checkpoint,
      `Worker: \`on\` restores the ${env} environment's pooled sandboxes from a checkpoint taken after its preload (needs Docker's experimental mode; cold starts otherwise), \`off\` always starts them cold.`,
    ),
  };
}

const SANDBOX_VARS = Object.fromEntries(ENVIRONMENTS.map((e) => [e, sandboxVars(e)])) as Record<
  Environment,
  ReturnType<typeof sandboxVars>
>;

export type SharedConfig = Parsed<typeof SHARED_VARS>;
export type ApiConfig = SharedConfig & Parsed<typeof API_VARS>;
export type WorkerConfig = SharedConfig &
  Parsed<typeof WORKER_VARS> & {
    /** Each environment's sandbox settings (SANDBOX_VARS). */
    sandboxes: Record<Environment, SandboxConfig>;
  };
/** Both apps' settings: for the one-process stack of the tests, which runs an API and a worker. */
export type Config = ApiConfig & WorkerConfig;

/** Which app reads a variable: the "read by" column of docs/configuration.md. */
export type ReadBy = 'api' | 'worker' | 'both';

/** One variable as docs/configuration.md lists it. */
export interface EnvVar {
  name: string;
  doc: string;
  /** `undefined` means "derived", explained in doc. */
  default: string | undefined;
  readBy: ReadBy;
}

const listed = (specs: Record<string, VarSpec<unknown>>, readBy: ReadBy): EnvVar[] =>
  Object.values(specs).map(({ name, doc, default: def }) => ({ name, doc, default: def, readBy }));

/** Every environment variable the service reads. The table in docs/configuration.md is checked against this list. */
export const ENV_VARS: readonly EnvVar[] = [
  ...listed(SHARED_VARS, 'both'),
  ...listed(API_VARS, 'api'),
  ...listed(WORKER_VARS, 'worker'),
  ...ENVIRONMENTS.flatMap((e) => listed(SANDBOX_VARS[e], 'worker')),
];

function parseVars<S extends Record<string, VarSpec<unknown>>>(specs: S, env: Env): Parsed<S> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) out[key] = spec.parse(env[spec.name], env);
  return out as Parsed<S>;
}

function loadShared(env: Env): SharedConfig {
  const config = parseVars(SHARED_VARS, env);
  if (config.defaultTimeMs > config.maxTimeMs)
    throw new ConfigError('SBX_DEFAULT_TIME_MS must not exceed SBX_MAX_TIME_MS');
  if (config.defaultMemoryMb > config.maxMemoryMb)
    throw new ConfigError('SBX_DEFAULT_MEMORY_MB must not exceed SBX_MAX_MEMORY_MB');
  return config;
}

function withApi(shared: SharedConfig, env: Env): ApiConfig {
  const config = { ...shared, ...parseVars(API_VARS, env) };
  if (config.minMemoryMb > config.defaultMemoryMb)
    throw new ConfigError('SBX_MIN_MEMORY_MB must not exceed SBX_DEFAULT_MEMORY_MB');
  return config;
}

function withWorker(shared: SharedConfig, env: Env): WorkerConfig {
  const sandboxes = Object.fromEntries(ENVIRONMENTS.map((e) => [e, parseVars(SANDBOX_VARS[e], env)])) as Record<
    Environment,
    SandboxConfig
  >;
  const config = { ...shared, ...parseVars(WORKER_VARS, env), sandboxes };
  // The default environment's floor is refused above the ceiling, as SBX_POOL_MIN always was; the
  // others' are only clamped to it, and every floor to what its memory budget holds (pool-bounds.ts).
  if (sandboxes[DEFAULT_ENVIRONMENT].poolMin > config.poolMax)
    throw new ConfigError(`${SANDBOX_VARS[DEFAULT_ENVIRONMENT].poolMin.name} must not exceed SBX_POOL_MAX`);
  return config;
}

/** The API's settings: the shared variables and its own, none of the worker's. */
export function loadApiConfig(env: Env = process.env): ApiConfig {
  return withApi(loadShared(env), env);
}

/** The worker's settings: the shared variables and its own, none of the API's. */
export function loadWorkerConfig(env: Env = process.env): WorkerConfig {
  return withWorker(loadShared(env), env);
}

/** Every setting, for a process that runs both apps (the tests' stack). */
export function loadConfig(env: Env = process.env): Config {
  const shared = loadShared(env);
  return { ...withApi(shared, env), ...withWorker(shared, env) };
}

/** What a job that names no environment gets: python, unless the server does not serve it. */
export function defaultEnvironment(config: Pick<SharedConfig, 'environments'>): Environment {
  return config.environments.includes(DEFAULT_ENVIRONMENT)
    ? DEFAULT_ENVIRONMENT
    : (config.environments[0] ?? DEFAULT_ENVIRONMENT);
}
