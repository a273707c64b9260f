#!/usr/bin/env bash
# Images for running docker-compose.yml on a host that reaches no registry (like the machines this is
# developed on), so the compose file itself is exercised: services, networks, health checks, restart
# policies, the Prometheus rules mount, Alertmanager. Built from the debootstrapped Debian root that
# infra/sandbox/build-image.sh keeps, with Debian's own packages:
#   sbx-local/ops  redis-server, prometheus, prometheus-alertmanager, wget (stand-ins for redis:7,
#                  prom/prometheus, prom/alertmanager: other versions, same roles and flags)
#   sbx-local/app  this checkout with its node_modules and the host's Node (what infra/app.Dockerfile builds)
# infra/compose/local-images.yml points the services at them. Grafana has no Debian package: it is not
# run. Tags carry a hash of their inputs, so an unchanged tree is a no-op.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
CACHE="${SBX_ROOTFS_CACHE:-/var/cache/sbx}"
BASE="$CACHE/rootfs-bookworm-py311"
log() { printf '[compose-images] %s\n' "$*" >&2; }

[ -f "$BASE/.complete" ] || SBX_ENVIRONMENTS=python bash "$repo/infra/sandbox/build-image.sh"

exec 9>"$CACHE/.build.lock"
flock 9
stage=""
cleanup() {
  [ -z "$stage" ] || { awk -v d="$stage" '$2 ~ "^"d {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l; rm -rf --one-file-system "$stage"; }
}
trap cleanup EXIT

ops_packages="redis-server prometheus prometheus-alertmanager wget"
ops_tag="sbx-local/ops:$(echo "$ops_packages" | cat - "$here/build-local-images.sh" | sha256sum | cut -c1-12)"
if ! docker image inspect "$ops_tag" >/dev/null 2>&1; then
  log "building $ops_tag (Debian's $ops_packages, about a minute)"
  stage=$(mktemp -d "$CACHE/compose-ops.XXXXXX")
  cp -a "$BASE/." "$stage/"
  # Package scripts must not start the daemons inside the chroot.
  printf '#!/bin/sh\nexit 101\n' >"$stage/usr/sbin/policy-rc.d" && chmod +x "$stage/usr/sbin/policy-rc.d"
  mount -t proc proc "$stage/proc"
  # shellcheck disable=SC2086 # one word per package
  chroot "$stage" /bin/sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $ops_packages && apt-get clean" \
    >"$CACHE/compose-ops.log" 2>&1 || { tail -20 "$CACHE/compose-ops.log" >&2; exit 1; }
  umount "$stage/proc"
  rm -f "$stage/usr/sbin/policy-rc.d" "$stage/.complete"
  rm -rf "$stage"/var/lib/apt/lists/* "$stage"/usr/share/doc/* "$stage"/usr/share/man/*
  tar -C "$stage" -c . | docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$ops_tag" >/dev/null
  rm -rf "$stage"
  stage=""
fi
docker tag "$ops_tag" sbx-local/ops:latest

# The app image: the tracked files and installed node_modules of this checkout, as they are now.
app_hash=$( (cd "$repo" && git ls-files -z --cached --others --exclude-standard | xargs -0 sha256sum && cat pnpm-lock.yaml && sha256sum /usr/bin/node) | sha256sum | cut -c1-12)
app_tag="sbx-local/app:$app_hash"
if ! docker image inspect "$app_tag" >/dev/null 2>&1; then
  log "building $app_tag"
  stage=$(mktemp -d "$CACHE/compose-app.XXXXXX")
  cp -a "$BASE/." "$stage/"
  rm -f "$stage/.complete"
  install -m 0755 /usr/bin/node "$stage/usr/local/bin/node"
  mkdir -p "$stage/app"
  # node_modules' links are relative (pnpm), so the tree works wherever it is copied.
  (cd "$repo" && { git ls-files -z --cached --others --exclude-standard; find . -name node_modules -prune -print0 | sed -z 's|^\./||'; } \
    | tar --null -T - -c) | tar -C "$stage/app" -x
  tar -C "$stage" -c . | docker import --change 'WORKDIR /app' \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin NODE_ENV=production' - "$app_tag" >/dev/null
  rm -rf "$stage"
  stage=""
fi
docker tag "$app_tag" sbx-local/app:latest
log "images ready: $ops_tag, $app_tag"
