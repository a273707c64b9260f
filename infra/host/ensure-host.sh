#!/usr/bin/env bash
# Installs and starts what the service needs on a Debian 12 host, idempotently:
# Debian packages, the runsc runtime registered with Docker, dockerd and Redis.
# Fast when everything is already in place (no apt calls, no restarts).
set -euo pipefail

log() { printf '[ensure-host] %s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || { log "must run as root (it installs packages and starts dockerd)"; exit 1; }

REDIS_PORT="${SBX_REDIS_PORT:-6379}"
RUNSC_PATH=/usr/bin/runsc
packages=(docker.io runsc redis-server debootstrap)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Register gVisor. --network=none in runtimeArgs is required on these VMs for
# NetworkMode=none containers to start at all; the default ptrace platform is
# kept because --platform=kvm hangs here.
mkdir -p /etc/docker
daemon_json_changed=$(node - "$RUNSC_PATH" <<'JS'
const fs = require('node:fs');
const file = '/etc/docker/daemon.json';
const runscPath = process.argv[2];
let cfg = {};
try { cfg = JSON.parse(fs.readFileSync(file, 'utf8')); } catch { cfg = {}; }
const want = { path: runscPath, runtimeArgs: ['--network=none'] };
cfg.runtimes = cfg.runtimes ?? {};
const before = JSON.stringify(cfg.runtimes.runsc ?? null);
cfg.runtimes.runsc = want;
if (before !== JSON.stringify(want)) {
  fs.writeFileSync(file, JSON.stringify(cfg, null, 2) + '\n');
  process.stdout.write('yes');
} else process.stdout.write('no');
JS
)

docker_up() { timeout 5 /usr/bin/docker info >/dev/null 2>&1; }
if ! docker_up; then
  if pgrep -x dockerd >/dev/null; then
    log "dockerd is running but not answering; waiting"
  else
    log "starting dockerd"
    # containerd is started by dockerd itself when no system containerd runs.
    setsid nohup dockerd >/var/log/dockerd.log 2>&1 </dev/null &
  fi
  for _ in $(seq 1 120); do docker_up && break; sleep 0.5; done
  docker_up || { log "dockerd did not come up; see /var/log/dockerd.log"; tail -20 /var/log/dockerd.log >&2; exit 1; }
elif [ "$daemon_json_changed" = yes ]; then
  log "runtime config changed; reloading dockerd"
  pkill -HUP -x dockerd
  sleep 1
fi
/usr/bin/docker info --format '{{json .Runtimes}}' | grep -q '"runsc"' || {
  log "runsc is not registered with dockerd"; exit 1; }

redis_up() { timeout 2 redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }
if ! redis_up; then
  log "starting redis-server on port $REDIS_PORT"
  mkdir -p /var/lib/sbx-redis
  # BullMQ needs noeviction; AOF with fsync every second so a restart loses at most ~1 s of queue writes.
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes \
    --dir /var/lib/sbx-redis --appendonly yes --appendfsync everysec \
    --maxmemory-policy noeviction --logfile /var/log/sbx-redis.log
  for _ in $(seq 1 50); do redis_up && break; sleep 0.1; done
  redis_up || { log "redis did not come up; see /var/log/sbx-redis.log"; exit 1; }
fi
log "host ready: dockerd with runsc, redis on 127.0.0.1:$REDIS_PORT"
