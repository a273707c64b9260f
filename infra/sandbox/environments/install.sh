#!/bin/sh
# Installs an environment's Debian packages into the root it runs in: build-image.sh runs it in a
# chroot of a copy of the debootstrapped root, the Dockerfile in a RUN. Both builds install exactly
# this way from the same <environment>.packages file. A list with no package is a no-op.
#   install.sh /path/to/<environment>.packages
set -eu
list=$1
words=$(sed -e 's/#.*//' "$list" | tr -s ' \t' '\n\n' | grep . || true)
install=$(printf '%s\n' "$words" | grep -v '^-' || true)
purge=$(printf '%s\n' "$words" | sed -n 's/^-//p')
[ -n "$install" ] || exit 0

export DEBIAN_FRONTEND=noninteractive LC_ALL=C
# shellcheck disable=SC2086 # one word per package
apt-get install -y -q --no-install-recommends $install
# shellcheck disable=SC2086
[ -z "$purge" ] || dpkg --purge --force-depends $purge
apt-get clean

dist=/usr/lib/python3/dist-packages
# The libraries' own test suites (pandas/tests alone is about 50 MB): nothing imports them outside
# pytest. The importable helpers (numpy.testing, pandas.testing, matplotlib.testing) are not named
# tests and stay.
find "$dist" -type d -name tests -prune -exec rm -rf {} +

# Matplotlib's font cache, built once here so the sandbox never scans fonts or writes a cache:
# MPLCONFIGDIR points here at run time (preload.py) and the directory is read-only for everyone.
if [ -d "$dist/matplotlib" ]; then
  mkdir -p /opt/sbx/mplconfig
  MPLCONFIGDIR=/opt/sbx/mplconfig MPLBACKEND=Agg python3.11 -I -S -B -c \
    'import sys; sys.path.append("/usr/lib/python3/dist-packages"); import matplotlib.font_manager'
  ls /opt/sbx/mplconfig/fontlist-v*.json >/dev/null
  chmod -R a-w,a+rX /opt/sbx/mplconfig
fi
