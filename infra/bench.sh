#!/usr/bin/env bash
# `npm run bench`: makes sure the host, the Node deps and the sandbox image are there, then runs the
# benchmark, which prints its report and writes it to docs/benchmarks.md. Sizes, pool and output are
# set with BENCH_* variables: see the header of test/bench/bench.ts.
# `npm run bench:lanes` (`lanes`): the interactive-under-burst row alone, docs/benchmarks-lanes.md.
# `npm run bench:live` (`live`): issue 21's live-output rows alone (first byte beside a plain POST /run,
# idle and under a burst; 100k lines), printed only (BENCH_OUTPUT=<file> to keep it).
# `npm run bench:restore` (`restore`): issue 22's rows alone (python-data sandboxes restored from a checkpoint
# beside cold starts), docs/benchmarks-restore.md.
# `npm run bench:gvisor` (this script with `gvisor`): the gVisor settings compared, docs/gvisor-settings.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/prepare.sh
case "${1:-service}" in
  service) node --import tsx test/bench/bench.ts && exec node --import tsx test/bench/lanes.ts ;;
  lanes) exec node --import tsx test/bench/lanes.ts ;;
  live) BENCH_ONLY=live exec node --import tsx test/bench/bench.ts ;;
  restore) BENCH_ONLY=restore BENCH_OUTPUT="${BENCH_OUTPUT:-docs/benchmarks-restore.md}" exec node --import tsx test/bench/bench.ts ;;
  gvisor) exec node --import tsx test/bench/gvisor-settings.ts ;;
  *) echo "usage: bench.sh [service|lanes|live|restore|gvisor]" >&2; exit 2 ;;
esac
