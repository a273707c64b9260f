#!/usr/bin/env bash
# Node dependencies: pnpm (corepack's signature check fails on these machines, npm works) and the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v pnpm >/dev/null 2>&1; then
  echo "[deps] installing pnpm" >&2
  npm install -g pnpm@10 >/dev/null 2>&1
fi
pnpm install --frozen-lockfile --reporter=silent
# The playground page the API serves at / (apps/playground): bundled by esbuild into its dist/, which
# is not in git. Skipped when dist/ was built from the same sources and lockfile.
pnpm --filter @sbx/playground --silent build --if-changed
