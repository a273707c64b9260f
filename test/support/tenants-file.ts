import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashApiKey } from '@sbx/shared';

/** A fresh API key in the shape the service hands out. */
export const newApiKey = (): string => `sk_${randomBytes(16).toString('hex')}`;

/** One tenant as the file holds it: its key stored hashed, as an operator writes it, plus its own limits. */
export const tenantEntry = (id: string, apiKey: string, limits: Record<string, unknown> = {}) => ({
  id,
  key_sha256: [hashApiKey(apiKey)],
  ...limits,
});

export interface TenantsFile {
  /** What SBX_TENANTS_FILE names. */
  path: string;
  remove(): Promise<void>;
}

/** Writes a tenants file of its own to the temp dir, so that test files running one after another never share one. */
export async function writeTenantsFile(entries: readonly object[]): Promise<TenantsFile> {
  const path = join(tmpdir(), `sbx-tenants-${randomBytes(4).toString('hex')}.json`);
  await writeFile(path, JSON.stringify(entries));
  return { path, remove: () => rm(path, { force: true }) };
}
