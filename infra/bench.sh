#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/prepare.sh
exec node --import tsx test/bench/bench.ts
