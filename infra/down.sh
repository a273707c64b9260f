#!/usr/bin/env bash
# Stops the API, worker, Prometheus and Alertmanager started by up.sh for good: SIGTERM to each one's supervisor, which passes
# it on (the worker finishes in-flight jobs first) and does not start it again.
set -uo pipefail
run_dir="${SBX_RUN_DIR:-/run/sbx}"
for name in api worker prometheus alertmanager; do
  pidfile="$run_dir/$name.pid"
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    # The worker's own shutdown bound is SBX_SHUTDOWN_TIMEOUT_MS (15 s) plus its connection cut.
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    # Still there: the supervisor and its process share a process group (setsid).
    kill -0 "$pid" 2>/dev/null && kill -KILL -- "-$pid"
    echo "stopped $name ($pid)"
  fi
  rm -f "$pidfile"
done
