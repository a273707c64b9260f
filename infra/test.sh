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
# all      (npm test, the default, what .ci/run runs) prepare.sh, then every tier in that order.
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

tier_sandbox() {
  echo "== sandbox tier: real workers, real gVisor sandboxes"
  run_files test/sandbox/*.test.ts
  nothing_left sandbox
}

tier_faults() {
  echo "== faults tier: the host's services restarted and reconfigured"
  run_files test/faults/*.test.ts
  nothing_left faults
}

# Runs one tier and says how long it took; the first tier that fails ends the run.
run_tier() {
  local start=$SECONDS
  "tier_$1"
  echo "== $1 tier passed in $((SECONDS - start)) s"
}

case "${1:-all}" in
  fast) run_tier fast ;;
  redis)
    bash infra/prepare.sh redis
    run_tier redis
    ;;
  sandbox | faults)
    bash infra/prepare.sh
    run_tier "$1"
    ;;
  all)
    bash infra/prepare.sh
    for tier in fast redis sandbox faults; do run_tier "$tier"; done
    ;;
  *)
    echo "usage: infra/test.sh [fast|redis|sandbox|faults|all]" >&2
    exit 2
    ;;
esac
