#!/usr/bin/env bash
# The test suite, in tiers; each tier's files are in a folder of its own under test/.
#   test.sh [fast|redis|sandbox|faults|all]
# fast     (npm run test:fast) lint and format check, type check, harness syntax and harness unit tests,
#          test/unit. No root, no Docker, no Redis, no network, and nothing installed: it needs the Node
#          deps (pnpm install) and a few host tools ensure-host.sh installs (checked first).
# redis    (npm run test:redis) test/redis: the API, the queue and webhooks on a real Redis, no worker,
#          no sandbox. Installs and starts Redis alone if missing (prepare.sh redis).
# sandbox  (npm run test:sandbox) test/sandbox: real workers running real gVisor sandboxes on Redis,
#          Docker and runsc; then test/final. Installs and starts what is missing (prepare.sh).
# faults   (npm run test:faults) test/faults: what restarts or reconfigures the host's own services
#          (dockerd, containerd, runsc registrations, Redis under Sentinel, network namespaces, compose
#          projects); then test/final. Installs and starts what is missing (prepare.sh).
# all      (npm test, the default, what .ci/run runs) prepare.sh, then every tier in that order; a
#          failed tier does not stop the later ones, and the run fails at the end naming it.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob

# One process per file, one file at a time: the files share the machine's two cores and their timing
# assertions must not compete.
run_files() {
  [ "$#" -gt 0 ] || return 0
  node --import tsx --test --test-concurrency=1 --test-reporter=spec "$@"
}

# After a tier whose tests can leave sandbox containers, runsc processes, containerd tasks, network
# namespaces or compose projects behind. A run of its own: node's runner orders the files it is given
# by path, which once put test/final first.
nothing_left() {
  echo "== after the $1 tier: nothing left behind"
  run_files test/final/*.test.ts
}

tier_fast() {
  [ -x node_modules/.bin/biome ] ||
    { echo "test:fast needs the Node deps: pnpm install (or bash infra/deps.sh)" >&2; exit 1; }
  # Host tools the unit tests call, none of them a service: docker-compose parses the compose file,
  # promtool and amtool check configs, python3-seccomp loads the harness's filter.
  local missing=()
  for tool in promtool amtool docker-compose; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  /usr/bin/python3 -c 'import seccomp' 2>/dev/null || missing+=(python3-seccomp)
  [ "${#missing[@]}" -eq 0 ] ||
    { echo "test:fast needs ${missing[*]}: sudo bash infra/host/ensure-host.sh installs them, once" >&2; exit 1; }
  echo "== lint and format (biome)"
  pnpm exec biome ci .
  echo "== type check (tsc, strict)"
  pnpm exec tsc -p tsconfig.json
  # The playground's page is browser code (DOM types): a project of its own.
  pnpm exec tsc -p apps/playground/tsconfig.json
  echo "== harness compiles"
  python3 -m py_compile infra/sandbox/harness/*.py
  echo "== harness unit tests (on the host, no Docker)"
  /usr/bin/python3 -m unittest discover -s test/harness -p 'test_*.py'
  echo "== unit tests"
  run_files test/unit/*.test.ts
}

tier_redis() {
  echo "== redis tier: on a real Redis, no sandbox"
  run_files test/redis/*.test.ts
}

# A failed file still gets the leftovers check: what it left behind is part of the report.
tier_sandbox() {
  echo "== sandbox tier: real workers, real gVisor sandboxes"
  local rc=0
  run_files test/sandbox/*.test.ts || rc=$?
  nothing_left sandbox
  return "$rc"
}

tier_faults() {
  echo "== faults tier: the host's services restarted and reconfigured"
  local rc=0
  run_files test/faults/*.test.ts || rc=$?
  nothing_left faults
  return "$rc"
}

# Runs one tier and says how long it took, passed or not (the trap sees set -e end the script too).
run_tier() {
  TIER=$1
  TIER_START=$SECONDS
  trap 'rc=$?; echo "== $TIER tier $([ "$rc" -eq 0 ] && echo passed || echo FAILED) in $((SECONDS - TIER_START)) s"' EXIT
  "tier_$1"
}

# Every tier runs even after one fails, each in a process of its own (so that set -e still ends a
# tier at its first failing step), and the run fails at the end naming the tiers that failed.
run_all() {
  bash infra/prepare.sh
  local failed=()
  for tier in fast redis sandbox faults; do
    SBX_TEST_PREPARED=1 bash "$0" "$tier" || failed+=("$tier")
  done
  [ "${#failed[@]}" -eq 0 ] || { echo "== failed tiers: ${failed[*]}" >&2; return 1; }
  echo "== every tier passed"
}

prepare() {
  [ -n "${SBX_TEST_PREPARED:-}" ] || bash infra/prepare.sh "$@"
}

case "${1:-all}" in
  fast) run_tier fast ;;
  redis)
    prepare redis
    run_tier redis
    ;;
  sandbox | faults)
    prepare
    run_tier "$1"
    ;;
  all) run_all ;;
  *)
    echo "usage: infra/test.sh [fast|redis|sandbox|faults|all]" >&2
    exit 2
    ;;
esac
