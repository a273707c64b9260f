#!/usr/bin/env bash
# `npm run soak`: makes sure the host, the Node deps and the sandbox image are there, then pushes
# SOAK_JOBS mixed jobs (10,000 by default) through the real stack and writes docs/reliability.md
# (SOAK_OUTPUT, or "-" for none). Exits 1 when a target is missed. See test/soak/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/prepare.sh
status=0
node --import tsx test/soak/main.ts || status=$?
# The report's tables in the one format the repository's formatter (and its check) accepts.
out="${SOAK_OUTPUT:-docs/reliability.md}"
[ "$out" = "-" ] || [ ! -f "$out" ] || pnpm exec biome format --write "$out" >/dev/null
exit "$status"
