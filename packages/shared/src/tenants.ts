import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, type SharedConfig } from './config.js';
import { ENVIRONMENTS, type Environment, isEnvironment } from './environments.js';
import { isLane, LANES, type Lane } from './lanes.js';

/** Who is calling, with what allowances. Keys are never kept: only their SHA-256. */
export interface Tenant {
  id: string;
  /** Tenant maxima; the server's maxima still apply on top. */
  maxTimeMs: number;
  maxMemoryMb: number;
  ratePerMinute: number;
  maxQueued: number;
  /** Jobs it may have running at once, fleet-wide; 0: no cap (running-cap.ts). */
  maxRunning: number;
  /** Bytes it may have stored within the result TTL (storage-quota.ts). */
  maxStoredBytes: number;
  /** Signs this tenant's webhooks; the server's SBX_WEBHOOK_SECRET when absent. */
  webhookSecret?: string;
  /** Environments this tenant may use, of those the server serves; null: all of them. */
  environments: Environment[] | null;
  /** Lanes this tenant may use (default both). */
  lanes: Lane[];
  /** Its share against other tenants with work queued in a lane: jobs per round (default 1). */
  weight: number;
}

/** Largest weight a tenant may have: one tenant's round then holds this many of its jobs. */
export const MAX_WEIGHT = 100;

/** One entry of SBX_TENANTS_FILE. */
interface TenantRecord {
  id: string;
  key_sha256: string[];
  max_time_ms?: number;
  max_memory_mb?: number;
  rate_per_minute?: number;
  max_queued?: number;
  max_running?: number;
  max_stored_mb?: number;
  webhook_secret?: string;
  environments?: string[];
  lanes?: string[];
  weight?: number;
}

const MIB = 1024 * 1024;

/**
 * What tenants are built from. The worker builds them too, for each tenant's webhook secret
 * (webhookServiceFromConfig), which is why these variables are in the shared slice.
 */
export type TenantsConfig = Pick<
  SharedConfig,
  | 'apiKeys'
  | 'tenantsFile'
  | 'maxTimeMs'
  | 'maxMemoryMb'
  | 'ratePerMinute'
  | 'maxQueuedPerTenant'
  | 'maxRunningPerTenant'
  | 'maxStoredMbPerTenant'
>;

export const hashApiKey = (key: string) => createHash('sha256').update(key).digest('hex');

/** The tenant every request belongs to when no key is configured (loopback-only servers). */
export function anonymousTenant(config: TenantsConfig): Tenant {
  return {
    id: 'anonymous',
    maxTimeMs: config.maxTimeMs,
    maxMemoryMb: config.maxMemoryMb,
    ratePerMinute: config.ratePerMinute,
    maxQueued: config.maxQueuedPerTenant,
    maxRunning: config.maxRunningPerTenant,
    maxStoredBytes: config.maxStoredMbPerTenant * MIB,
    environments: null,
    lanes: [...LANES],
    weight: 1,
  };
}

/**
 * Key hash → tenant. SBX_API_KEYS keys all belong to tenant "default"; SBX_TENANTS_FILE (JSON array of
 * `{ id, key_sha256: [hex], max_time_ms?, max_memory_mb?, rate_per_minute?, max_queued?, max_running?, max_stored_mb?, environments?, lanes?, weight? }`) adds more.
 */
/** Tenant id → its own webhook secret, for the webhook service's `secretFor`. */
export function tenantWebhookSecrets(tenants: Map<string, Tenant>): Map<string, string> {
  const secrets = new Map<string, string>();
  for (const t of tenants.values()) if (t.webhookSecret) secrets.set(t.id, t.webhookSecret);
  return secrets;
}

export function loadTenants(
  config: TenantsConfig,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
) {
  const byKeyHash = new Map<string, Tenant>();
  const base = anonymousTenant(config);
  if (config.apiKeys.length > 0) {
    const tenant = { ...base, id: 'default' };
    for (const key of config.apiKeys) byKeyHash.set(hashApiKey(key), tenant);
  }
  if (config.tenantsFile) {
    let records: TenantRecord[];
    try {
      records = JSON.parse(readFile(config.tenantsFile)) as TenantRecord[];
    } catch (err) {
      throw new ConfigError(`SBX_TENANTS_FILE ${config.tenantsFile}: ${(err as Error).message}`);
    }
    if (!Array.isArray(records)) throw new ConfigError('SBX_TENANTS_FILE must hold a JSON array');
    for (const r of records) {
      if (typeof r.id !== 'string' || !/^[\w.-]{1,64}$/.test(r.id))
        throw new ConfigError(`SBX_TENANTS_FILE: bad tenant id ${JSON.stringify(r.id)}`);
      if (!Array.isArray(r.key_sha256) || !r.key_sha256.every((h) => /^[0-9a-f]{64}$/.test(h)))
        throw new ConfigError(`SBX_TENANTS_FILE: tenant ${r.id} needs key_sha256: [64-hex-char SHA-256 of each key]`);
      if (
        r.environments !== undefined &&
        (!Array.isArray(r.environments) || !r.environments.every((e) => isEnvironment(e)))
      )
        throw new ConfigError(
          `SBX_TENANTS_FILE: tenant ${r.id} environments must be a list of ${ENVIRONMENTS.join(', ')}`,
        );
      if (r.lanes !== undefined && (!Array.isArray(r.lanes) || !r.lanes.length || !r.lanes.every((l) => isLane(l))))
        throw new ConfigError(`SBX_TENANTS_FILE: tenant ${r.id} lanes must be a non-empty list of ${LANES.join(', ')}`);
      if (r.weight !== undefined && !(Number.isInteger(r.weight) && r.weight >= 1 && r.weight <= MAX_WEIGHT))
        throw new ConfigError(`SBX_TENANTS_FILE: tenant ${r.id} weight must be an integer from 1 to ${MAX_WEIGHT}`);
      for (const field of ['max_running', 'max_stored_mb'] as const) {
        const v = r[field];
        if (v !== undefined && !(Number.isInteger(v) && v >= (field === 'max_running' ? 0 : 1)))
          throw new ConfigError(
            `SBX_TENANTS_FILE: tenant ${r.id} ${field} must be a whole number${field === 'max_running' ? ' (0: no cap)' : ' of MiB, at least 1'}`,
          );
      }
      const tenant: Tenant = {
        id: r.id,
        maxTimeMs: Math.min(r.max_time_ms ?? base.maxTimeMs, config.maxTimeMs),
        maxMemoryMb: Math.min(r.max_memory_mb ?? base.maxMemoryMb, config.maxMemoryMb),
        ratePerMinute: r.rate_per_minute ?? base.ratePerMinute,
        maxQueued: r.max_queued ?? base.maxQueued,
        maxRunning: r.max_running ?? base.maxRunning,
        maxStoredBytes: r.max_stored_mb !== undefined ? r.max_stored_mb * MIB : base.maxStoredBytes,
        ...(r.webhook_secret ? { webhookSecret: r.webhook_secret } : {}),
        environments: (r.environments as Environment[] | undefined) ?? null,
        // Kept in serving order, whatever order the file lists them in.
        lanes: r.lanes ? LANES.filter((l) => r.lanes?.includes(l)) : [...LANES],
        weight: r.weight ?? 1,
      };
      for (const h of r.key_sha256) byKeyHash.set(h, tenant);
    }
  }
  return byKeyHash;
}
