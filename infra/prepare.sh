#!/usr/bin/env bash
# Everything the service and its tests need on this machine, idempotently: host services, Node deps, sandbox images.
#   prepare.sh [all|redis]
# all (the default): all of it. redis: Redis and the Node deps only, for what runs no sandbox (npm run test:redis).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
part="${1:-all}"
case "$part" in
  all | redis) ;;
  *) echo "prepare.sh: unknown part '$part' (all or redis)" >&2; exit 2 ;;
esac
bash "$here/host/ensure-host.sh" "$part"
bash "$here/deps.sh"
[ "$part" = all ] || exit 0
# One image per environment in SBX_ENVIRONMENTS (default python,python-data). A first python-data
# build installs its packages into a cached root: about 70 s on top of the debootstrap.
SBX_ENVIRONMENTS="${SBX_ENVIRONMENTS:-python,python-data}" bash "$here/sandbox/build-image.sh"
