#!/usr/bin/env bash
# Everything the service and its tests need on this machine, idempotently: host services, Node deps, sandbox image.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/host/ensure-host.sh"
bash "$here/deps.sh"
bash "$here/sandbox/build-image.sh"
