#!/usr/bin/env bash
# `npm run soak`: makes sure the host, the Node deps and the sandbox image are there, then pushes
# SOAK_JOBS mixed jobs (10,000 by default) through the real stack and writes docs/reliability.md
# (SOAK_OUTPUT, or "-" for none). Exits 1 when a target is missed. See test/soak/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/prepare.sh
exec node --import tsx test/soak/main.ts
