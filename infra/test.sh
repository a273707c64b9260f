#!/usr/bin/env bash
# The whole suite: lint and format check, type check, harness syntax, unit tests, and integration
# tests on real Redis, a real Docker engine and real runsc. Installs and starts what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/prepare.sh

echo "== lint and format (biome)"
pnpm exec biome ci .
echo "== type check (tsc, strict)"
pnpm exec tsc -p tsconfig.json
echo "== harness compiles"
python3 -m py_compile infra/sandbox/harness/*.py
echo "== harness unit tests (on the host, no Docker)"
/usr/bin/python3 -m unittest discover -s test/harness -p 'test_*.py'

echo "== tests"
# One process per file, one file at a time: the integration files share the machine's two cores
# and their timing assertions must not compete.
shopt -s nullglob
files=(test/unit/*.test.ts test/integration/*.test.ts)
node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
# A run of its own: node's runner orders the files it is given by path, which put test/final first.
echo "== after the suite: nothing left behind"
exec node --import tsx --test --test-reporter=spec test/final/*.test.ts
