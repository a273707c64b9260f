"""Preload of the python-data environment, run by the supervisor (as the sandbox's root, before any
user code and before the first fork) from /opt/sbx/preload.py: every child then starts with numpy,
pandas and matplotlib (Agg) already imported and warmed, so importing them in user code and drawing
a first figure cost nothing. It must write nothing to stdout or stderr, and nothing to disk.
"""

import os
import sys

# Set before the imports, in os.environ rather than the image's ENV: the worker replaces the
# container's env entirely (container-spec.ts). Children inherit these.
os.environ.update(
    {
        # One thread each: thread stacks count against the memory limit, and a sandbox has 1-2 cores.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        # Read-only, built at image build time with the font cache in it (install.sh).
        "MPLCONFIGDIR": "/opt/sbx/mplconfig",
    }
)
# -S keeps Debian's dist-packages off sys.path.
if "/usr/lib/python3/dist-packages" not in sys.path:
    sys.path.append("/usr/lib/python3/dist-packages")


def _import_matplotlib(configdir):
    # Matplotlib takes its config/cache dir only if os.access says it is writable; otherwise it makes
    # a temporary one in /tmp, warns on stderr and rebuilds the font cache there (seconds). The
    # directory is read-only on purpose and nothing is ever written to it (the font cache is
    # current, there is no usetex): say it is writable while matplotlib looks, once (both lookups
    # are cached for the process and its children).
    real_access = os.access

    def access(path, mode, *args, **kwargs):
        if mode == os.W_OK and os.path.realpath(path) == configdir:
            return True
        return real_access(path, mode, *args, **kwargs)

    os.access = access
    try:
        import matplotlib

        matplotlib.get_configdir()
        matplotlib.get_cachedir()
    finally:
        os.access = real_access
    return matplotlib


def _import_pandas():
    # The image has no ctypes (raw memory access for user code), and pandas 1.5 imports it at module
    # level where only functions use it: pandas.errors (for Windows' WinError) and the interchange
    # protocol's from_dataframe. An empty module stands in while pandas is imported, and only then:
    # afterwards "import ctypes" fails as before. What used it raises AttributeError instead: the
    # Windows-only branch, and from_dataframe given another library's frame (none is installed).
    # numpy is imported first, without it (numpy.core._internal treats ctypes as optional).
    sys.modules["ctypes"] = type(sys)("ctypes")
    try:
        import pandas
    finally:
        del sys.modules["ctypes"]
    return pandas


import numpy  # noqa: E402

pandas = _import_pandas()

matplotlib = _import_matplotlib(os.path.realpath(os.environ["MPLCONFIGDIR"]))
matplotlib.use("Agg")
import io  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402


def _warm():
    # A small line chart with everything a first user figure draws: Agg, the font cache, text layout
    # and the PNG and SVG writers. numpy.dot on 2-D arrays starts BLAS, whose buffers are then
    # mapped before the fork rather than charged to the program's memory limit.
    numpy.dot(numpy.ones((8, 8)), numpy.ones((8, 8)))
    frame = pandas.DataFrame({"x": numpy.arange(5), "y": numpy.arange(5) ** 2})
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot(frame["x"], frame["y"], label="y = x²")
    ax.set_title("warm-up")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend()
    for fmt in ("png", "svg"):
        fig.savefig(io.BytesIO(), format=fmt)
    plt.close(fig)


_warm()

# For whoever looks (the supervisor ignores it); the worker's probe is /opt/sbx/versions.py.
VERSIONS = {
    "python": sys.version.split()[0],
    "numpy": numpy.__version__,
    "pandas": pandas.__version__,
    "matplotlib": matplotlib.__version__,
}
