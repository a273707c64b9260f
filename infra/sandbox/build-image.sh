#!/usr/bin/env bash
# Builds the sandbox image without any registry: debootstrap a Debian bookworm
# root with Python, add the harness, docker import. The tag carries a hash of
# the harness and this script, so a change rebuilds and an unchanged tree is a
# no-op. infra/sandbox/Dockerfile builds the same image where a registry exists.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
IMAGE_REPO="${SBX_IMAGE_REPO:-sbx-python}"
CACHE="${SBX_ROOTFS_CACHE:-/var/cache/sbx}"
ROOTFS="$CACHE/rootfs-bookworm-py311"
log() { printf '[build-image] %s\n' "$*" >&2; }

# One build at a time: a second debootstrap into the same folder corrupts both.
mkdir -p "$CACHE"
exec 9>"$CACHE/.build.lock"
flock 9

# Removes a half-built root safely: debootstrap mounts proc and sys inside it,
# and a plain rm -rf would walk into them.
remove_root() {
  local dir=$1
  [ -e "$dir" ] || return 0
  awk -v d="$dir" '$2 ~ "^"d {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l
  rm -rf --one-file-system "$dir"
}

hash=$(cat "$here/build-image.sh" "$here"/harness/*.py | sha256sum | cut -c1-12)
tag="$IMAGE_REPO:$hash"
if docker image inspect "$tag" >/dev/null 2>&1; then
  docker tag "$tag" "$IMAGE_REPO:latest"
  log "image $tag is current"
  exit 0
fi

if [ ! -f "$ROOTFS/.complete" ]; then
  log "debootstrapping $ROOTFS (about a minute, once per machine)"
  remove_root "$ROOTFS.partial"
  debootstrap --variant=minbase --include=python3.11 bookworm "$ROOTFS.partial" >"$CACHE/debootstrap.log" 2>&1 \
    || { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
  remove_root "$ROOTFS" && mv "$ROOTFS.partial" "$ROOTFS" && touch "$ROOTFS/.complete"
fi

stage=$(mktemp -d "$CACHE/stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
cp -a "$ROOTFS/." "$stage/"
rm -f "$stage/.complete"
# Nothing in the sandbox needs package tooling, caches or docs.
rm -rf "$stage"/var/cache/apt/* "$stage"/var/lib/apt/lists/* "$stage"/usr/share/doc/* \
  "$stage"/usr/share/man/* "$stage"/usr/share/locale/* "$stage"/var/log/*
# ctypes would hand user code raw memory access: leave it out of the image.
rm -rf "$stage"/usr/lib/python3.11/ctypes "$stage"/usr/lib/python3.11/lib-dynload/_ctypes*.so
# No setuid/setgid programs (no-new-privileges already neuters them; this is the second fence).
find "$stage" -xdev -perm /6000 -type f -exec chmod ug-s {} +
ln -sf python3.11 "$stage/usr/bin/python3"
mkdir -p "$stage/opt/sbx"
install -m 0444 "$here"/harness/*.py "$stage/opt/sbx/"

log "importing $tag"
tar -C "$stage" -c . | docker import \
  --change 'USER 10001:10001' \
  --change 'WORKDIR /tmp' \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8' \
  --change 'CMD ["python3.11","-I","-S","-B","-X","utf8","/opt/sbx/supervisor.py"]' \
  --change "LABEL sbx.harness=$hash" \
  - "$tag" >/dev/null
docker tag "$tag" "$IMAGE_REPO:latest"
log "built $tag"
