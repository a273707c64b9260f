#!/usr/bin/env bash
# Brings the whole service up on this machine: installs and starts what is missing (Redis, Docker with
# runsc, the sandbox image, Node deps), then runs the API on :3000 and one worker in the background,
# each kept running by infra/supervise.sh (restarted with backoff if it exits), and returns once
# /readyz says ready. Running it again restarts both. `npm run down` stops them for good.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bash infra/prepare.sh

run_dir="${SBX_RUN_DIR:-/run/sbx}"
log_dir="${SBX_LOG_DIR:-/var/log/sbx}"
mkdir -p "$run_dir" "$log_dir"
bash infra/down.sh >/dev/null 2>&1 || true

start() {
  local name=$1 entry=$2
  # setsid: the service outlives this shell. supervise.sh starts it again if it exits; the pidfile
  # (the supervisor's) lets down.sh stop both for good.
  setsid nohup bash "$root/infra/supervise.sh" "$name" node --import tsx "$root/$entry" \
    >>"$log_dir/$name.log" 2>&1 </dev/null &
  echo $! >"$run_dir/$name.pid"
}
# One id across the supervisor's restarts: a restarted worker then removes its dead run's sandboxes.
SBX_WORKER_ID="${SBX_WORKER_ID:-$(hostname)-worker}" start worker apps/worker/src/main.ts
start api apps/api/src/server.ts

port="${SBX_API_PORT:-3000}"
for _ in $(seq 1 120); do
  if node -e "fetch('http://127.0.0.1:$port/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"; then
    echo "sbx is up: API http://127.0.0.1:$port (docs at /docs), one worker."
    echo "logs: $log_dir/{api,worker}.log   stop: npm run down"
    exit 0
  fi
  sleep 0.5
done
echo "sbx did not become ready within 60 s; last log lines:" >&2
tail -n 20 "$log_dir/api.log" "$log_dir/worker.log" >&2
exit 1
