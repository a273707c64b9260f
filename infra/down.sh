#!/usr/bin/env bash
# Stops the API and worker started by up.sh (SIGTERM: the worker finishes in-flight jobs first).
set -uo pipefail
run_dir="${SBX_RUN_DIR:-/run/sbx}"
for name in api worker; do
  pidfile="$run_dir/$name.pid"
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    echo "stopped $name ($pid)"
  fi
  rm -f "$pidfile"
done
