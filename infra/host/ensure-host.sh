#!/usr/bin/env bash
# Installs and starts what the service needs on a Debian 12 host, idempotently:
# Debian packages, gVisor's runsc from bookworm-backports registered with Docker, dockerd and Redis.
# Fast when everything is already in place (no apt calls, no restarts).
#
#   ensure-host.sh [all|redis]
# all (the default): everything above. redis: Redis alone (redis-server installed, running, with its
# memory limit), for what needs no Docker (npm run test:redis); root only when something must be
# installed or started.
#
# SBX_RUNSC_PATH: an operator who must stay on another runsc points this at its binary; nothing is
# installed for runsc then, and it is registered as it is. The worker's self-check still refuses a
# release older than SBX_RUNSC_MIN_RELEASE unless that is lowered too.
#
# Docker's experimental mode is turned on (its checkpoint/restore lets workers restore python-data
# sandboxes instead of starting them cold: docs/operations.md). It takes a dockerd restart, done here
# only while no container runs; SBX_DOCKER_EXPERIMENTAL=off leaves daemon.json's setting alone (the
# sandboxes then start cold).
set -euo pipefail

log() { printf '[ensure-host] %s\n' "$*" >&2; }

part="${1:-all}"
case "$part" in
  all | redis) ;;
  *) log "unknown part '$part' (all or redis)"; exit 2 ;;
esac
need_root() { [ "$(id -u)" = 0 ] || { log "must run as root ($1)"; exit 1; }; }
[ "$part" = redis ] || need_root "it installs packages and starts dockerd"

here=$(cd "$(dirname "$0")" && pwd)
REDIS_PORT="${SBX_REDIS_PORT:-6379}"
# Redis's memory limit: SBX_REDIS_MAXMEMORY (bytes, or Redis's units: 4gb, 512mb), by default a quarter
# of this host's memory, which leaves room for the sandboxes and for the copy-on-write of an AOF
# rewrite's fork. At the limit Redis evicts nothing (noeviction: BullMQ requires it) and refuses writes:
# new jobs get 503 storage_full, running ones wait for room (docs/operations.md, Redis memory).
REDIS_MAXMEMORY="${SBX_REDIS_MAXMEMORY:-$(($(sed -n 's/^MemTotal: *\([0-9]*\) kB$/\1/p' /proc/meminfo) * 1024 / 4))}"
RUNSC_PATH="${SBX_RUNSC_PATH:-/usr/bin/runsc}"
# Debian's own build of release-20240729 (systrap, 19 months of fixes over bookworm's 20221219).
RUNSC_SUITE=bookworm-backports
RUNSC_MIN_VERSION=0.0~20240729

# Empty when the package is not installed (dpkg-query fails then: never fatal here).
installed_version() { { dpkg-query -W -f='${Status} ${Version}' "$1" 2>/dev/null || true; } | sed -n 's/^install ok installed //p'; }

# python3-seccomp: the harness's seccomp floor, tested on the host (test/harness/test_syscall_floor.py).
# chromium: the real browser test/sandbox/playground.test.ts drives (playwright-core; no browser download).
packages=(docker.io redis-server debootstrap redis-sentinel prometheus prometheus-alertmanager iproute2 docker-compose python3-seccomp chromium)
[ "$part" = all ] || packages=(redis-server)
missing=()
for p in "${packages[@]}"; do [ -n "$(installed_version "$p")" ] || missing+=("$p"); done

runsc_upgrade=no
if [ "$part" = all ] && [ -z "${SBX_RUNSC_PATH:-}" ]; then
  have=$(installed_version runsc)
  if [ -z "$have" ] || ! dpkg --compare-versions "$have" ge "$RUNSC_MIN_VERSION"; then
    runsc_upgrade=yes
    [ -n "$have" ] && log "runsc $have is older than release 20240729; upgrading from $RUNSC_SUITE"
  fi
fi

if [ "${#missing[@]}" -gt 0 ] || [ "$runsc_upgrade" = yes ]; then
  if [ "$runsc_upgrade" = yes ]; then
    # Only runsc comes from backports: the pin lifts it alone above bookworm, so an apt upgrade keeps it
    # current and nothing else on the host moves to backports.
    cat >/etc/apt/sources.list.d/sbx-bookworm-backports.sources <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: $RUNSC_SUITE
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    cat >/etc/apt/preferences.d/sbx-runsc <<EOF
Package: runsc
Pin: release n=$RUNSC_SUITE
Pin-Priority: 990
EOF
    missing+=(runsc)
  fi
  need_root "to install ${missing[*]}"
  log "installing ${missing[*]}"
  apt-get update -qq
  # debconf's "delaying package configuration" note (no apt-utils) is noise, not a problem.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    2> >(grep -v '^debconf: ' >&2) >/dev/null
fi
if [ "$part" = all ]; then
  [ -x "$RUNSC_PATH" ] || { log "no runsc binary at $RUNSC_PATH"; exit 1; }

  # Register gVisor with every flag the sandbox relies on (packages/shared/src/gvisor.json says why each).
  mkdir -p /etc/docker
  daemon_json_changed=$(node "$here/register-runsc.mjs" /etc/docker/daemon.json "$RUNSC_PATH")
  # The same runsc, whose checkpoints keep their pages uncompressed: restores from them cost a third
  # (SBX_CHECKPOINT_RUNTIME, docs/operations.md).
  checkpoint_runtime_changed=$(node "$here/register-runsc.mjs" /etc/docker/daemon.json "$RUNSC_PATH" \
    runsc-checkpoint --checkpoint-compression=none)
  [ "$checkpoint_runtime_changed" = no ] || daemon_json_changed=yes
  [ "${SBX_DOCKER_EXPERIMENTAL:-on}" = off ] || node "$here/docker-experimental.mjs" /etc/docker/daemon.json >/dev/null

  docker_up() { timeout 5 /usr/bin/docker info >/dev/null 2>&1; }
  wait_docker_up() {
    for _ in $(seq 1 120); do docker_up && break; sleep 0.5; done
    docker_up || { log "dockerd did not come up; see /var/log/dockerd.log"; tail -20 /var/log/dockerd.log >&2; exit 1; }
  }
  # containerd is started by dockerd itself when no system containerd runs.
  start_dockerd() { setsid nohup dockerd >/var/log/dockerd.log 2>&1 </dev/null & }
  restart_dockerd() {
    if systemctl is-active --quiet docker 2>/dev/null; then
      systemctl restart docker
    else
      local pid
      pid=$(cat /var/run/docker.pid 2>/dev/null || pgrep -o -x dockerd || true)
      [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 60); do [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      start_dockerd
    fi
    wait_docker_up
  }
  if ! docker_up; then
    if pgrep -x dockerd >/dev/null; then
      log "dockerd is running but not answering; waiting"
    else
      log "starting dockerd"
      start_dockerd
    fi
    wait_docker_up
  elif [ "$daemon_json_changed" = yes ]; then
    # SIGHUP reloads runtimes without stopping running containers.
    log "runtime config changed; reloading dockerd"
    pkill -HUP -x dockerd
    for _ in $(seq 1 20); do
      /usr/bin/docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -qF "\"path\":\"$RUNSC_PATH\"" && break
      sleep 0.25
    done
  fi
  if [ "${SBX_DOCKER_EXPERIMENTAL:-on}" != off ] &&
    [ "$(/usr/bin/docker info --format '{{.ExperimentalBuild}}')" != true ]; then
    if [ -n "$(/usr/bin/docker ps -q)" ]; then
      log "dockerd must restart for experimental mode (checkpoints); containers are running, so it is left as it is: python-data sandboxes start cold until it restarts"
    else
      log "restarting dockerd for experimental mode (checkpoints)"
      restart_dockerd
    fi
  fi
  /usr/bin/docker info --format '{{json .Runtimes}}' | grep -q '"runsc"' || {
    log "runsc is not registered with dockerd"; exit 1; }
fi

redis_up() { timeout 2 redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }
if ! redis_up; then
  need_root "to start redis-server on port $REDIS_PORT"
  log "starting redis-server on port $REDIS_PORT"
  mkdir -p /var/lib/sbx-redis
  # BullMQ needs noeviction; AOF with fsync every second so a restart loses at most ~1 s of queue writes.
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes \
    --dir /var/lib/sbx-redis --appendonly yes --appendfsync everysec \
    --maxmemory "$REDIS_MAXMEMORY" --maxmemory-policy noeviction --logfile /var/log/sbx-redis.log
  for _ in $(seq 1 50); do redis_up && break; sleep 0.1; done
  redis_up || { log "redis did not come up; see /var/log/sbx-redis.log"; exit 1; }
fi
# Also a Redis already running (an earlier run's, or Debian's own redis-server service) gets the limit,
# without a restart; CONFIG REWRITE keeps it in the config file of one started from a file
# (/etc/redis/redis.conf), and ours is started with the flags above each time.
redis_cli() { redis-cli -p "$REDIS_PORT" "$@"; }
redis_config() { redis_cli config get "$1" | sed -n 2p; }
limits() { echo "$(redis_config maxmemory) $(redis_config maxmemory-policy)"; }
was=$(limits)
for setting in "maxmemory $REDIS_MAXMEMORY" "maxmemory-policy noeviction"; do
  # shellcheck disable=SC2086 # a name and a value
  answer=$(redis_cli config set $setting)
  [ "$answer" = OK ] || { log "redis refused CONFIG SET $setting: $answer"; exit 1; }
done
now=$(redis_config maxmemory)
if [ "$was" != "$(limits)" ]; then
  log "redis maxmemory, maxmemory-policy: $was -> $(limits)"
  if [ -n "$(redis_cli info server | sed -n 's/^config_file:\(.\+\)\r$/\1/p')" ]; then
    [ "$(redis_cli config rewrite)" = OK ] || log "redis could not write maxmemory into its config file"
  fi
fi
used=$(redis_cli info memory | sed -n 's/^used_memory:\([0-9]*\)\r$/\1/p')
[ "${used:-0}" -le "$now" ] ||
  log "WARNING: redis already holds $used bytes, over its limit of $now: it refuses new jobs until it has room"
if [ "$part" = all ]; then
  log "host ready: dockerd with $("$RUNSC_PATH" --version | head -1), redis on 127.0.0.1:$REDIS_PORT (maxmemory $now bytes)"
else
  log "redis ready on 127.0.0.1:$REDIS_PORT (maxmemory $now bytes)"
fi
