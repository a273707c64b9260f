/**
 * Where the built playground is, for the API that serves it (apps/api/src/plugins/playground.ts).
 * `pnpm --filter @sbx/playground build` (run by infra/deps.sh, so by `npm run up` and the tests)
 * writes it; it is not in git.
 */
import { fileURLToPath } from 'node:url';

/** dist/: index.html at its top, the hashed assets under assets/. */
export const PLAYGROUND_DIST = fileURLToPath(new URL('../dist/', import.meta.url));

/** The URL path the assets are served under; index.html refers to them relative to the page. */
export const ASSETS_PATH = 'playground/assets/';
