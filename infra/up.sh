#!/usr/bin/env bash
# Brings the whole service up on this machine: installs and starts what is missing (Redis, Docker with
# runsc, the sandbox image, Node deps), then runs the API on :3000, one worker, Prometheus and
# Alertmanager in the background, each kept running by infra/supervise.sh (restarted with backoff if it
# exits), and returns once /readyz says ready. Running it again restarts them. `npm run down` stops
# them for good.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bash infra/prepare.sh

run_dir="${SBX_RUN_DIR:-/run/sbx}"
log_dir="${SBX_LOG_DIR:-/var/log/sbx}"
mkdir -p "$run_dir" "$log_dir"
bash infra/down.sh >/dev/null 2>&1 || true

start() {
  local name=$1
  shift
  # setsid: the service outlives this shell. supervise.sh starts it again if it exits; the pidfile
  # (the supervisor's) lets down.sh stop both for good.
  setsid nohup bash "$root/infra/supervise.sh" "$name" "$@" >>"$log_dir/$name.log" 2>&1 </dev/null &
  echo $! >"$run_dir/$name.pid"
}
# One id across the supervisor's restarts: a restarted worker then removes its dead run's sandboxes.
SBX_WORKER_ID="${SBX_WORKER_ID:-$(hostname)-worker}" start worker node --import tsx "$root/apps/worker/src/main.ts"
start api node --import tsx "$root/apps/api/src/server.ts"

# Monitoring beside the service, on loopback: Prometheus with the alert and recording rules of
# infra/prometheus (its compose config, pointed at this host's ports) and Alertmanager with
# infra/alertmanager/alertmanager.yml. SBX_MONITORING=off leaves them out.
if [ "${SBX_MONITORING:-on}" != off ]; then
  state_dir="${SBX_STATE_DIR:-/var/lib/sbx}"
  prom_dir="$run_dir/prometheus"
  mkdir -p "$prom_dir" "$state_dir/prometheus" "$state_dir/alertmanager"
  # Relative rule_files resolve beside the config: the rules are linked in, never copied.
  for rules in "$root"/infra/prometheus/*.yml; do ln -sf "$rules" "$prom_dir/"; done
  rm -f "$prom_dir/prometheus.yml"
  sed -e "s/\"worker:9464\"/\"127.0.0.1:${SBX_WORKER_METRICS_PORT:-9464}\"/" \
    -e "s/\"api:9465\"/\"127.0.0.1:${SBX_API_METRICS_PORT:-9465}\"/" \
    -e "s/\"alertmanager:9093\"/\"127.0.0.1:${SBX_ALERTMANAGER_PORT:-9093}\"/" \
    "$root/infra/prometheus/prometheus.yml" >"$prom_dir/prometheus.yml"
  start prometheus prometheus --config.file="$prom_dir/prometheus.yml" \
    --storage.tsdb.path="$state_dir/prometheus" --web.listen-address="127.0.0.1:${SBX_PROMETHEUS_PORT:-9090}"
  # No cluster listener: one Alertmanager here, and its gossip port would be one more open socket.
  start alertmanager prometheus-alertmanager --config.file="$root/infra/alertmanager/alertmanager.yml" \
    --storage.path="$state_dir/alertmanager" --web.listen-address="127.0.0.1:${SBX_ALERTMANAGER_PORT:-9093}" \
    --cluster.listen-address=
fi

port="${SBX_API_PORT:-3000}"
for _ in $(seq 1 120); do
  if node -e "fetch('http://127.0.0.1:$port/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"; then
    echo "sbx is up: API http://127.0.0.1:$port (docs at /docs), one worker."
    [ "${SBX_MONITORING:-on}" = off ] ||
      echo "monitoring: Prometheus http://127.0.0.1:${SBX_PROMETHEUS_PORT:-9090}, Alertmanager http://127.0.0.1:${SBX_ALERTMANAGER_PORT:-9093}"
    echo "logs: $log_dir/{api,worker}.log   stop: npm run down"
    exit 0
  fi
  sleep 0.5
done
echo "sbx did not become ready within 60 s; last log lines:" >&2
tail -n 20 "$log_dir/api.log" "$log_dir/worker.log" >&2
exit 1
