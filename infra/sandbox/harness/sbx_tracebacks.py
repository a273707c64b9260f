"""A program's tracebacks as Python prints them, without the harness's frames.

Judge0 shows `script.py`; we show the program's frames (main.py) and the libraries', never the
harness's, and never read harness source to format one: a refused read while formatting must not
turn into a verdict.
"""

import os
import sys

from sbx_wire import PROGRAM

FILENAME = PROGRAM["filename"]
HARNESS_DIR = os.path.dirname(os.path.abspath(__file__)) + "/"


def without_harness(summary):
    """A TracebackException with the harness's frames taken out, its causes and contexts too."""
    seen = set()
    todo = [summary]
    while todo:
        te = todo.pop()
        if te is None or id(te) in seen:
            continue
        seen.add(id(te))
        te.stack[:] = [f for f in te.stack if not (f.filename or "").startswith(HARNESS_DIR)]
        todo.extend([te.__cause__, te.__context__, *(getattr(te, "exceptions", None) or [])])
    return summary


def format_exception(exc, source=None):
    """The traceback's text. `source`: the program's bytes, for its own lines (main.py exists
    nowhere on disk)."""
    import linecache  # imported on failure only: with traceback, 40+ ms of sandbox start-up
    import traceback

    if source is not None:
        text = source.decode("utf-8", "replace")
        linecache.cache[FILENAME] = (len(text), None, text.splitlines(True), FILENAME)
    summary = traceback.TracebackException(type(exc), exc, exc.__traceback__, lookup_lines=False)
    return "".join(without_harness(summary).format())


def print_exception(exc, source=None):
    """Onto the program's stderr. Whatever goes wrong while formatting (memory still short, a
    broken __str__), the run's verdict was decided before and stays."""
    try:
        sys.stderr.write(format_exception(exc, source))
        return
    except BaseException:
        pass
    try:
        os.write(2, ("%s (its traceback could not be formatted)\n" % type(exc).__name__).encode())
    except BaseException:
        pass
