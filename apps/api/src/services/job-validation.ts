import {
  type ApiConfig,
  ApiError,
  defaultEnvironment,
  type Environment,
  FILE_NAME_PATTERN,
  type JobData,
  type JobRequest,
  type Lane,
  MAX_FILES,
  type Policy,
  type ResolvedLimits,
  resolveLane,
  resolveLimits,
  type Tenant,
} from '@sbx/shared';

/** The server settings a job request is checked against. */
export type ValidationConfig = Pick<
  ApiConfig,
  | 'maxCodeBytes'
  | 'maxStdinBytes'
  | 'defaultTimeMs'
  | 'maxTimeMs'
  | 'defaultMemoryMb'
  | 'maxMemoryMb'
  | 'minMemoryMb'
  | 'allowedPolicies'
  | 'environments'
  | 'maxTests'
  | 'interactiveWallMs'
  | 'interactiveIdleMs'
>;

/** What a request is checked for besides its body: who sends it, on which route, and the server's state. */
export interface SubmissionContext {
  config: ValidationConfig;
  tenant: Tenant;
  /** The lane of the route it came in on, for a request that names none. */
  routeLane: Lane;
  requestId: string;
  /** False without a webhook signing secret: callback_url is then refused. */
  webhooksConfigured: boolean;
  /** When it was submitted. */
  now: Date;
}

type LimitBounds = Pick<ApiConfig, 'defaultTimeMs' | 'maxTimeMs' | 'defaultMemoryMb' | 'maxMemoryMb' | 'minMemoryMb'>;

/** The tenant's maxima apply on top of the server's (loadTenants already took the minimum). */
export function tenantLimits(config: LimitBounds, tenant: Pick<Tenant, 'maxTimeMs' | 'maxMemoryMb'>): LimitBounds {
  return {
    maxTimeMs: tenant.maxTimeMs,
    maxMemoryMb: tenant.maxMemoryMb,
    minMemoryMb: config.minMemoryMb,
    defaultTimeMs: Math.min(config.defaultTimeMs, tenant.maxTimeMs),
    defaultMemoryMb: Math.min(config.defaultMemoryMb, tenant.maxMemoryMb),
  };
}

/** The environments the server serves, narrowed to the tenant's allow-list where it has one. */
export function environmentsFor(
  config: Pick<ApiConfig, 'environments'>,
  tenant: Pick<Tenant, 'environments'>,
): Environment[] {
  return config.environments.filter((e) => !tenant.environments || tenant.environments.includes(e));
}

/** strict unless the operator allows only laxer profiles: a job that names none must still run. */
export function defaultPolicy(allowed: readonly Policy[]): Policy {
  return allowed.includes('strict') ? 'strict' : (allowed[0] ?? 'strict');
}

const utf8Bytes = (s: string) => Buffer.byteLength(s, 'utf8');
const argBytes = (args: string[] | undefined) => (args ?? []).reduce((n, a) => n + utf8Bytes(a), 0);

/** The files' bytes as written in the sandbox: `content` decoded as its `encoding` says. */
export function fileBytes(file: NonNullable<JobRequest['files']>[number]): Buffer {
  return Buffer.from(file.content, file.encoding ?? 'utf8');
}

const FILE_NAME = new RegExp(FILE_NAME_PATTERN);

/**
 * The files as the job carries them (base64 of their bytes). The schema checks names and count on our
 * routes; checked again here for the compat routes, which build requests themselves. A name given
 * twice is refused.
 */
export function resolveFiles(files: JobRequest['files']): JobData['files'] {
  if (!files || files.length === 0) return undefined;
  if (files.length > MAX_FILES)
    throw new ApiError('validation_failed', `${files.length} files; the maximum is ${MAX_FILES}`, {
      field: 'files',
      maximum: MAX_FILES,
    });
  const seen = new Set<string>();
  return files.map((file, index) => {
    if (!FILE_NAME.test(file.name))
      throw new ApiError(
        'validation_failed',
        `body.files[${index}].name "${file.name}" is not a plain file name (letters, digits, ".", "_", "-"; at most 100; not "outputs")`,
        { field: `files[${index}].name` },
      );
    if (seen.has(file.name))
      throw new ApiError('validation_failed', `body.files[${index}].name "${file.name}" is given twice`, {
        field: `files[${index}].name`,
      });
    seen.add(file.name);
    return { name: file.name, data: fileBytes(file).toString('base64') };
  });
}

/** The code, and the stdin, arguments, files and test data together, each within their byte maximum. */
export function checkSizes(request: JobRequest, config: Pick<ApiConfig, 'maxCodeBytes' | 'maxStdinBytes'>): void {
  const codeBytes = utf8Bytes(request.code);
  if (codeBytes > config.maxCodeBytes)
    throw new ApiError('code_too_large', `code is ${codeBytes} bytes; the maximum is ${config.maxCodeBytes}`, {
      maximum: config.maxCodeBytes,
    });
  const testInput = (request.tests ?? []).reduce(
    (n, t) => n + utf8Bytes(t.stdin ?? '') + argBytes(t.args) + utf8Bytes(t.expected_output),
    0,
  );
  const filesInput = (request.files ?? []).reduce((n, f) => n + fileBytes(f).length, 0);
  const stdinBytes = utf8Bytes(request.stdin ?? '') + argBytes(request.args) + filesInput + testInput;
  // Files are named only when there are some: the message of a job without them is unchanged.
  const what = filesInput > 0 ? 'stdin, arguments, files and test data' : 'stdin, arguments and test data';
  if (stdinBytes > config.maxStdinBytes)
    throw new ApiError(
      'stdin_too_large',
      `${what} are ${stdinBytes} bytes together; the maximum is ${config.maxStdinBytes}`,
      { maximum: config.maxStdinBytes },
    );
}

/** The test cases as the worker runs them; undefined for a plain run. */
export function resolveTests(
  request: Pick<JobRequest, 'tests' | 'args'>,
  limits: ResolvedLimits,
  bounds: LimitBounds,
  maxTests: number,
): JobData['tests'] {
  if (request.tests && request.tests.length > maxTests)
    throw new ApiError('validation_failed', `${request.tests.length} tests; the maximum is ${maxTests}`, {
      field: 'tests',
      maximum: maxTests,
    });
  // A test's own limits default to the job's and meet the same maxima.
  return request.tests?.map((t) => {
    const args = t.args ?? request.args;
    return {
      stdin: t.stdin ?? '',
      ...(args ? { args } : {}),
      expected_output: t.expected_output,
      limits: resolveLimits({ ...limits, ...t.limits }, bounds),
    };
  });
}

/** An interactive job's bounds (SBX_INTERACTIVE_*), fixed when it is queued; undefined for any other job. */
export function resolveInteractive(
  request: Pick<JobRequest, 'interactive' | 'tests'>,
  config: Pick<ApiConfig, 'interactiveWallMs' | 'interactiveIdleMs'>,
): JobData['interactive'] {
  if (request.interactive !== true) return undefined;
  if (request.tests)
    throw new ApiError('validation_failed', 'body.interactive is for a single run: a job with tests cannot have it', {
      field: 'interactive',
    });
  return { wall_ms: config.interactiveWallMs, idle_ms: config.interactiveIdleMs };
}

/** A callback needs a signing secret, and an http(s) URL that carries no credentials. */
export function checkCallbackUrl(callbackUrl: string | undefined, webhooksConfigured: boolean): void {
  if (callbackUrl === undefined) return;
  if (!webhooksConfigured)
    throw new ApiError('webhooks_not_configured', 'this server has no webhook signing secret (SBX_WEBHOOK_SECRET)');
  let url: URL | null = null;
  try {
    url = new URL(callbackUrl);
  } catch {
    url = null;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password)
    throw new ApiError('validation_failed', 'body.callback_url must be an http(s) URL without credentials');
}

/** The policy asked for, or the default one; either must be one the server allows. */
export function resolvePolicy(asked: Policy | undefined, allowed: readonly Policy[]): Policy {
  const policy = asked ?? defaultPolicy(allowed);
  if (!allowed.includes(policy))
    throw new ApiError(
      'policy_not_allowed',
      `policy "${policy}" is not allowed on this server; allowed: ${allowed.join(', ')}`,
      { allowed },
    );
  return policy;
}

/** The environment asked for, or the server's default; either must be offered to this tenant. */
export function resolveEnvironment(
  asked: string | undefined,
  config: Pick<ApiConfig, 'environments'>,
  tenant: Pick<Tenant, 'environments'>,
): Environment {
  const environment = (asked ?? defaultEnvironment(config)) as Environment;
  const offered = environmentsFor(config, tenant);
  if (!offered.includes(environment))
    throw new ApiError(
      'environment_not_available',
      `environment "${environment}" is not available to this caller; available: ${offered.join(', ') || 'none'}`,
      { environment, available: offered },
    );
  return environment;
}

/** The lane the job queues in (resolveLane); one the tenant may not use is refused. */
export function resolveJobLane(asked: Lane | undefined, routeLane: Lane, tenant: Pick<Tenant, 'lanes'>): Lane {
  const lane = resolveLane(asked, routeLane, tenant.lanes);
  if (!lane)
    throw new ApiError(
      'lane_not_allowed',
      `lane "${asked}" is not available to this caller; available: ${tenant.lanes.join(', ')}`,
      { lane: asked, available: tenant.lanes },
    );
  return lane;
}

/**
 * Checks sizes, limits and policy and builds the queue entry, defaults applied. Throws ApiError for
 * anything the caller must fix, in this order: sizes, limits, tests, interactive, callback_url,
 * policy, environment, lane.
 */
export function validateJob(request: JobRequest, context: SubmissionContext): JobData {
  const { config, tenant } = context;
  const bounds = tenantLimits(config, tenant);
  checkSizes(request, config);
  const limits = resolveLimits(request.limits, bounds);
  const tests = resolveTests(request, limits, bounds, config.maxTests);
  const interactive = resolveInteractive(request, config);
  checkCallbackUrl(request.callback_url, context.webhooksConfigured);
  const policy = resolvePolicy(request.policy, config.allowedPolicies);
  const environment = resolveEnvironment(request.environment, config, tenant);
  const lane = resolveJobLane(request.lane, context.routeLane, tenant);
  const files = resolveFiles(request.files);
  return {
    code: request.code,
    stdin: request.stdin ?? '',
    ...(request.args ? { args: request.args } : {}),
    ...(files ? { files } : {}),
    ...(request.output_encoding === 'base64' ? { output_encoding: 'base64' as const } : {}),
    limits,
    policy,
    environment,
    ...(request.figure_format === 'svg' ? { figure_format: 'svg' as const } : {}),
    ...(interactive ? { interactive } : {}),
    ...(tests
      ? {
          tests,
          comparator: request.comparator ?? 'trailing_whitespace',
          float_tolerance: request.float_tolerance ?? 1e-6,
          stop_on_first_failure: request.stop_on_first_failure ?? false,
        }
      : {}),
    ...(request.callback_url ? { callback_url: request.callback_url } : {}),
    tenant_id: tenant.id,
    lane,
    ...(tenant.maxRunning > 0 ? { max_running: tenant.maxRunning } : {}),
    submitted_at: context.now.toISOString(),
    request_id: context.requestId,
  };
}

/** A batch's refusal names the job it is about: `jobs[i]: ...`, with the index among the details. */
export function inBatch(err: unknown, index: number): unknown {
  if (!(err instanceof ApiError)) return err;
  return new ApiError(err.code, `jobs[${index}]: ${err.message}`, { index, ...(err.details as object) });
}
