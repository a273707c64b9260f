#!/usr/bin/env bash
# Everything the service and its tests need on this machine, idempotently: host services, Node deps, sandbox images.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/host/ensure-host.sh"
bash "$here/deps.sh"
# One image per environment in SBX_ENVIRONMENTS (default python,python-data). A first python-data
# build installs its packages into a cached root: about 70 s on top of the debootstrap.
SBX_ENVIRONMENTS="${SBX_ENVIRONMENTS:-python,python-data}" bash "$here/sandbox/build-image.sh"
