#!/usr/bin/env bash
# `supervise.sh <name> <command...>`: keeps one service process running, as up.sh starts it. A process
# that exits is started again after a delay that doubles from 1 s to 30 s (back to 1 s once a run has
# lasted a minute), with a line saying how it ended. SIGTERM or SIGINT (npm run down) is passed to the
# process and ends the loop for good once it has exited.
#
# Why not a packaged supervisor: supervisord and daemon(1) give up after a number of quick failures,
# and a worker waiting out a long Redis or Docker outage must not be given up on; runit restarts every
# second without backoff and wants service directories. This loop is the whole of what is needed.
set -u
name=$1
shift
log() { printf '[supervise %s] %s %s\n' "$(date -u +%FT%TZ)" "$name" "$*" >&2; }

child=0
stopping=0
stop() {
  stopping=1
  [ "$child" -gt 0 ] && kill -TERM "$child" 2>/dev/null
}
trap stop TERM INT

delay=1
while :; do
  started=$SECONDS
  "$@" &
  child=$!
  # A trap interrupts `wait`: wait again until the process has really ended.
  code=0
  while kill -0 "$child" 2>/dev/null; do
    wait "$child"
    code=$?
  done
  child=0
  [ "$stopping" = 1 ] && exit 0
  ran=$((SECONDS - started))
  [ "$ran" -ge 60 ] && delay=1
  if [ "$code" -gt 128 ]; then how="was killed by signal $((code - 128))"; else how="exited with status $code"; fi
  log "$how after ${ran}s; starting it again in ${delay}s"
  sleep "$delay" &
  wait $! 2>/dev/null
  [ "$stopping" = 1 ] && exit 0
  delay=$((delay * 2 > 30 ? 30 : delay * 2))
done
