"""matplotlib figures of a program, sent back to the supervisor as artifacts (child side).

Loaded before the first fork; runs inside the program's process, after the program.
"""

import os
import sys

from sbx_tracebacks import print_exception
from sbx_wire import json_dumps


FIGURE_MIMES = {"png": "image/png", "svg": "image/svg+xml"}


class FigureSink:
    """matplotlib figures going back as artifacts, on the artifact pipe to the supervisor: each a
    header line {"name","mime","size"} and exactly size bytes, or {"dropped": name} for one past the
    job's caps (the supervisor counts those). Rendered into memory with savefig on a BytesIO (no file
    is opened, so no audit event), written with os.write (none either). pyplot is never imported
    here: only figures of a program that has it in sys.modules (preloaded in python-data) exist."""

    def __init__(self, fd, fmt, max_count, max_bytes):
        self.fd = fd
        self.format = fmt
        self.mime = FIGURE_MIMES[fmt]
        self.max_count = max_count
        self.max_bytes = max_bytes
        self.sent = 0
        self.sent_bytes = 0
        self.numbered = 0
        self.full = False
        self.broken = False

    @classmethod
    def for_job(cls, fd, spec):
        """The job header's "artifacts" ({format, max_count, max_bytes}); None when nothing is collected."""
        if fd is None or not isinstance(spec, dict):
            return None
        fmt = spec.get("format") if spec.get("format") in FIGURE_MIMES else "png"
        max_count, max_bytes = spec.get("max_count"), spec.get("max_bytes")
        if not isinstance(max_count, int) or not isinstance(max_bytes, int) or max_count <= 0:
            return None
        return cls(fd, fmt, max_count, max(0, max_bytes))

    def install_show(self):
        """plt.show() emits every open figure and closes them, as Jupyter's inline backend does."""
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is None:
            return
        emit = self.emit_open

        def show(*args, **kwargs):
            emit(close=True)

        show.__doc__ = "Sends every open figure back as an artifact (figure-N), then closes them."
        pyplot.show = show

    def _write(self, data):
        if self.broken:
            return
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view):]
        except OSError:
            self.broken = True  # the supervisor is gone: nothing more can arrive anyway

    def _drop(self, name):
        self.full = True  # past a cap: this and every later one is dropped, in order
        self._write(json_dumps({"dropped": name}).encode() + b"\n")

    def emit_open(self, close, at_exit=False):
        pyplot = sys.modules.get("matplotlib.pyplot")
        helpers = sys.modules.get("matplotlib._pylab_helpers")
        if pyplot is None or helpers is None:
            return
        managers = sorted(helpers.Gcf.figs.items(), key=lambda item: item[0])  # by figure number
        for _, manager in managers:
            self.numbered += 1
            name = "figure-%d.%s" % (self.numbered, self.format)
            if self.full or self.sent >= self.max_count:
                self._drop(name)
                continue
            import io

            buffer = io.BytesIO()
            try:
                manager.canvas.figure.savefig(buffer, format=self.format)
            except Exception:
                if not at_exit:
                    raise  # from the program's own plt.show(): its traceback, its line
                print("sbx: %s could not be rendered:" % name, file=sys.stderr)
                print_exception(sys.exc_info()[1])
                continue
            data = buffer.getvalue()
            if self.sent_bytes + len(data) > self.max_bytes:
                self._drop(name)
                continue
            self.sent += 1
            self.sent_bytes += len(data)
            header = json_dumps({"name": name, "mime": self.mime, "size": len(data)}).encode()
            self._write(header + b"\n" + data)
        if close and managers:
            pyplot.close("all")
