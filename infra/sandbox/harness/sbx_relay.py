"""Watching one child: its output relayed as frames, its status lines, its figures, its exit.

The child's stdout and stderr are pipes made for it (sbx_processes.WaitingChild). This process reads
them and writes what it read as stdout and stderr frames on its own stdout, which the program never
holds: nothing the program does to its descriptors (O_NONBLOCK, closing them, filling them) reaches
this process's, and only the program's own bytes are counted as its output.
"""

import os
import select
import time

from sbx_wire import MAX_CHUNK, STDERR, STDOUT, json_loads, send

# How long a drain after the child's exit may take: its pipes hold at most what they buffer.
DRAIN_ROUNDS = 1024


# A line number the worker takes as one (a JSON number it can read back exactly).
MAX_LINE = 1 << 31


def parse_violation(raw):
    try:
        found = json_loads(raw)
        message = str(found["message"])[:500]
        line = found.get("line")
        # Not a bool (an int to Python, not a number to the worker) nor one too large for it: the
        # program can write this line, and must not make the report unreadable.
        usable = type(line) is int and 0 <= line < MAX_LINE
        return {"message": message, "line": line if usable else None}
    except Exception:
        return {"message": "refused by the policy layer", "line": None}


class StatusEvents:
    """Lines the child writes on its status pipe: "base <kB>", "cpu_base <µs>", "start <monotonic>", "memory_error",
    "violation <json>", "exit". User code holds the pipe too, so each is parsed defensively: what it
    forges there can only change its own result."""

    def __init__(self, fd):
        self.fd = fd
        self.buffer = b""
        self.start = None
        self.memory_error = False
        # The child's resident memory before the program (the preloaded libraries), in KiB.
        self.base_rss_kb = None
        # CPU time the child was charged before the program (waiting for its job), in microseconds.
        self.cpu_base_us = None
        self.exited = False
        self.violation = None

    def feed(self, chunk):
        *lines, rest = (self.buffer + chunk).split(b"\n")
        # Bounded: user code holds this fd too and may write garbage to it. Only the unfinished line
        # is cut, to its head (where its keyword is), never a whole line: the child's own start line
        # can share a read with a flood of the program's and must not be lost to it (a forged one
        # would come first), nor a long violation line its "violation" (a long module name in it).
        self.buffer = rest[:4096]
        for line in lines:
            self._line(line)

    def _line(self, line):
        if line.startswith(b"violation ") and self.violation is None:
            self.violation = parse_violation(line[len(b"violation ") :])
            return
        fields = line.split()
        if len(fields) == 2 and fields[0] == b"start" and self.start is None:
            try:
                start = float(fields[1])
            except ValueError:
                return
            # Finite only: nan or inf would disable the time limit and make the report unwritable (JSON).
            if start - start == 0:
                self.start = start
        elif len(fields) == 2 and fields[0] == b"base" and self.base_rss_kb is None:
            # A whole line can be long now: int() refuses past 4,300 digits, and must not raise here.
            if fields[1].isdigit() and len(fields[1]) <= 15:
                self.base_rss_kb = int(fields[1])
        elif len(fields) == 2 and fields[0] == b"cpu_base" and self.cpu_base_us is None:
            if fields[1].isdigit() and len(fields[1]) <= 15:
                self.cpu_base_us = int(fields[1])
        elif fields == [b"memory_error"]:
            self.memory_error = True
        elif fields == [b"exit"]:
            self.exited = True


class ChildWatch:
    """Services every pipe of one child until they close: output relayed, status lines parsed,
    figure frames handed to the artifact sink. `out_fd` is where frames go (this process's stdout)."""

    def __init__(self, waiting, events, sink, out_fd=1):
        self.out_fd = out_fd
        self.events = events
        self.sink = sink
        self.relayed = 0
        self.poller = select.poll()
        self.handlers = {}
        for fd, handler in (
            (waiting.out_r, self._stdout),
            (waiting.err_r, self._stderr),
            (waiting.status_r, events.feed),
            (waiting.artifact_r, sink.feed),
        ):
            self.handlers[fd] = handler
            self.poller.register(fd, select.POLLIN)

    def _stdout(self, chunk):
        self.relayed += len(chunk)
        send(self.out_fd, STDOUT, chunk)

    def _stderr(self, chunk):
        self.relayed += len(chunk)
        send(self.out_fd, STDERR, chunk)

    @property
    def open(self):
        return bool(self.handlers)

    def poll_once(self, timeout_s):
        """Waits up to timeout_s for any pipe; services what is ready. Returns whether any was."""
        if not self.handlers:
            time.sleep(max(0.0, timeout_s))
            return False
        ready = self.poller.poll(max(0, int(timeout_s * 1000)))
        for fd, _ in ready:
            self._read(fd)
        return bool(ready)

    def _read(self, fd):
        try:
            chunk = os.read(fd, MAX_CHUNK)
        except OSError:
            chunk = b""
        if not chunk:
            self.poller.unregister(fd)
            del self.handlers[fd]
            os.close(fd)
            return
        self.handlers[fd](chunk)

    def wait_for_start(self, deadline):
        """The child's start line, or None when it exits first or the deadline passes."""
        while self.events.start is None and self.events.fd in self.handlers:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self.poll_once(remaining)
        return self.events.start

    def wait_exit(self, pid, deadline):
        """Reaps the child with wait4, for its own rusage (RUSAGE_CHILDREN would sum every test).
        Returns (status, rusage), or None when the deadline passes first (None: no deadline).
        Between polls its pipes are serviced: a child writing more than a pipe holds would block."""
        pause = 0.0005
        while True:
            reaped_pid, status, usage = os.wait4(pid, os.WNOHANG)
            if reaped_pid:
                return status, usage
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return None
            timeout = pause if deadline is None else min(pause, deadline - now)
            # A child's exit wakes no pipe while it holds them open: poll in short steps.
            if not self.poll_once(timeout):
                pause = min(pause * 2, 0.002)

    def drain(self):
        """After the child and everything else is gone: what they wrote is in the pipes, which
        nothing holds any more; read it all, then close them."""
        for _ in range(DRAIN_ROUNDS):
            if not self.handlers or not self.poll_once(0):
                break
        for fd in list(self.handlers):
            self.poller.unregister(fd)
            os.close(fd)
        self.handlers.clear()
