"""Prints the image's versions as one JSON line, for the worker's probe:

    docker run --rm --runtime=runsc --network=none <image> python3.11 -I -S -B /opt/sbx/versions.py

{"python": "3.11.2"} in the plain environment; the libraries' versions too where they are installed
(python-data). Read from the packages' metadata, without importing them: the probe costs a
fraction of a second, and reports what user code imports (Debian's dist-packages, the path
preload.py puts on sys.path).
"""

import sys

DIST_PACKAGES = "/usr/lib/python3/dist-packages"
LIBRARIES = ("numpy", "pandas", "matplotlib")

sys.path.append(DIST_PACKAGES)
found = {"python": sys.version.split()[0]}
try:
    from importlib import metadata
except ImportError:
    metadata = None
for name in LIBRARIES:
    try:
        found[name] = metadata.version(name)
    except Exception:
        pass  # not in this environment
print("{%s}" % ",".join('"%s":"%s"' % item for item in found.items()))
