// Turns on Docker's experimental mode in daemon.json: `node docker-experimental.mjs <daemon.json>`.
// Prints `yes` when the file changed, `no` otherwise; other keys are left as they are. Checkpoint and
// restore (the worker restores python-data sandboxes instead of starting them cold) exist only in that
// mode, and only a dockerd restart turns it on: SIGHUP does not.
import { readFileSync, writeFileSync } from 'node:fs';

const [file] = process.argv.slice(2);
if (!file) throw new Error('usage: docker-experimental.mjs <daemon.json>');
let cfg = {};
try {
  cfg = JSON.parse(readFileSync(file, 'utf8'));
} catch {
  // No file yet, or not ours to parse: written afresh with the one key.
}
const changed = cfg.experimental !== true;
if (changed) writeFileSync(file, `${JSON.stringify({ ...cfg, experimental: true }, null, 2)}\n`);
process.stdout.write(changed ? 'yes' : 'no');
