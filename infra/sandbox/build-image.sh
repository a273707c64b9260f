#!/usr/bin/env bash
# Builds the sandbox images without any registry: debootstrap a Debian bookworm root with Python,
# install the environment's packages in a chroot of a copy of it, add the harness, docker import.
#   build-image.sh [environment...]   (default: every name in $SBX_ENVIRONMENTS, "python,python-data")
# One image per environment: sbx-python for python, sbx-python-data for python-data. The tag carries
# a hash of this script, the harness and the environment's files (environments/), so a change
# rebuilds and an unchanged tree is a no-op. infra/sandbox/Dockerfile builds the same images where a
# registry exists (--build-arg ENVIRONMENT=<name>).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
envdir="$here/environments"
IMAGE_REPO="${SBX_IMAGE_REPO:-sbx-python}"
CACHE="${SBX_ROOTFS_CACHE:-/var/cache/sbx}"
ROOTFS="$CACHE/rootfs-bookworm-py311"
log() { printf '[build-image] %s\n' "$*" >&2; }

if [ $# -gt 0 ]; then
  environments=("$@")
else
  IFS=',' read -r -a environments <<<"${SBX_ENVIRONMENTS:-python,python-data}"
fi
for env in "${environments[@]}"; do
  [[ $env =~ ^python(-[a-z0-9]+)*$ && -f "$envdir/$env.packages" ]] \
    || { log "unknown environment '$env' (no $envdir/$env.packages)"; exit 2; }
done

# One build at a time: a second debootstrap into the same folder corrupts both.
mkdir -p "$CACHE"
exec 9>"$CACHE/.build.lock"
flock 9

# Removes a half-built root safely: debootstrap (and the chroot install below) mounts proc and sys
# inside it, and a plain rm -rf would walk into them.
remove_root() {
  local dir=$1
  [ -e "$dir" ] || return 0
  awk -v d="$dir" '$2 ~ "^"d {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l
  rm -rf --one-file-system "$dir"
}

stage=""
cleanup() {
  [ -z "$stage" ] || rm -rf "$stage"
  # A chroot install that failed half-way leaves its proc mounted.
  awk -v d="$CACHE/" '$2 ~ "^"d".*\\.partial/" {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l
}
trap cleanup EXIT

# Packages listed (comments and blank lines dropped): an empty list means the base root as it is.
listed_packages() { sed -e 's/#.*//' "$1" | tr -s ' \t' '\n\n' | grep . || true; }

base_root() {
  if [ ! -f "$ROOTFS/.complete" ]; then
    log "debootstrapping $ROOTFS (about a minute, once per machine)"
    remove_root "$ROOTFS.partial"
    debootstrap --variant=minbase --include=python3.11 bookworm "$ROOTFS.partial" >"$CACHE/debootstrap.log" 2>&1 \
      || { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
    remove_root "$ROOTFS" && mv "$ROOTFS.partial" "$ROOTFS" && touch "$ROOTFS/.complete"
  fi
}

# The base root plus an environment's packages, installed once per package list (keyed by the hash
# of the list and of install.sh): a rebuild after a harness change reuses it. Prints its path.
data_root() {
  local env=$1 key root
  key=$(cat "$envdir/$env.packages" "$envdir/install.sh" | sha256sum | cut -c1-12)
  root="$ROOTFS-${env#python-}"
  if [ ! -f "$root/.complete" ] || [ "$(cat "$root/.complete")" != "$key" ]; then
    log "installing $env's packages into $root (about a minute, once per package list)"
    local started=$SECONDS
    remove_root "$root.partial"
    mkdir -p "$root.partial" && cp -a "$ROOTFS/." "$root.partial/"
    rm -f "$root.partial/.complete"
    mkdir -p "$root.partial/tmp/sbx-env"
    cp "$envdir/$env.packages" "$envdir/install.sh" "$root.partial/tmp/sbx-env/"
    mount -t proc proc "$root.partial/proc"
    chroot "$root.partial" /bin/sh /tmp/sbx-env/install.sh "/tmp/sbx-env/$env.packages" >"$CACHE/install-$env.log" 2>&1 \
      || { tail -20 "$CACHE/install-$env.log" >&2; exit 1; }
    umount "$root.partial/proc"
    rm -rf "$root.partial/tmp/sbx-env"
    remove_root "$root" && mv "$root.partial" "$root" && echo "$key" >"$root/.complete"
    log "installed $env's packages in $((SECONDS - started)) s"
  fi
  echo "$root"
}

build() {
  local env=$1 repo hash tag root
  # sbx-python for python, sbx-python-data for python-data.
  repo="$IMAGE_REPO${env#python}"
  hash=$(cat "$here/build-image.sh" "$here"/harness/*.py "$here"/harness/*.json "$envdir/versions.py" "$envdir/install.sh" \
    "$envdir/$env.packages" $([ -f "$envdir/$env.preload.py" ] && echo "$envdir/$env.preload.py") \
    | sha256sum | cut -c1-12)
  tag="$repo:$hash"
  if docker image inspect "$tag" >/dev/null 2>&1; then
    docker tag "$tag" "$repo:latest"
    log "image $tag is current"
    return 0
  fi

  base_root
  root=$ROOTFS
  [ -z "$(listed_packages "$envdir/$env.packages")" ] || root=$(data_root "$env")

  stage=$(mktemp -d "$CACHE/stage.XXXXXX")
  cp -a "$root/." "$stage/"
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
  install -m 0444 "$here"/harness/*.py "$here"/harness/*.json "$stage/opt/sbx/"
  install -m 0444 "$envdir/versions.py" "$stage/opt/sbx/versions.py"
  [ ! -f "$envdir/$env.preload.py" ] || install -m 0444 "$envdir/$env.preload.py" "$stage/opt/sbx/preload.py"

  log "importing $tag"
  tar -C "$stage" -c . | docker import \
    --change 'USER 10001:10001' \
    --change 'WORKDIR /tmp' \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8' \
    --change 'CMD ["python3.11","-I","-S","-B","-X","utf8","/opt/sbx/supervisor.py"]' \
    --change "LABEL sbx.harness=$hash" \
    - "$tag" >/dev/null
  rm -rf "$stage"
  stage=""
  docker tag "$tag" "$repo:latest"
  log "built $tag"
}

for env in "${environments[@]}"; do build "$env"; done
