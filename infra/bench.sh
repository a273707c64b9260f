#!/usr/bin/env bash
# `npm run bench`: makes sure the host, the Node deps and the sandbox image are there, then runs the
# benchmark, which prints its report and writes it to docs/benchmarks.md. Sizes, pool and output are
# set with BENCH_* variables: see the header of test/bench/bench.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/prepare.sh
exec node --import tsx test/bench/bench.ts
