/**
 * Makes a new API key for a tenant: prints the key once (hand it to the tenant) and the JSON entry to
 * put in SBX_TENANTS_FILE, which holds only the key's SHA-256.
 *   npm run tenant-key -- acme
 */
import { randomBytes } from 'node:crypto';
import { hashApiKey } from '@sbx/shared';

const id = process.argv[2];
if (!id || !/^[\w.-]{1,64}$/.test(id)) {
  console.error('usage: npm run tenant-key -- <tenant-id>   (letters, digits, . _ -)');
  process.exit(2);
}
const key = `sk_${randomBytes(24).toString('base64url')}`;
console.log(`API key for ${id} (shown once, not stored): ${key}`);
console.log('Entry for SBX_TENANTS_FILE:');
console.log(JSON.stringify({ id, key_sha256: [hashApiKey(key)], rate_per_minute: 600, max_queued: 1000 }, null, 2));
