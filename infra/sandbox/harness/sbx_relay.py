"""Watching one child: its output relayed as frames, its status lines, its figures, its exit.

The child's stdout and stderr are pipes made for it (sbx_processes.WaitingChild). This process reads
them and writes what it read as stdout and stderr frames on its own stdout, which the program never
holds: nothing the program does to its descriptors (O_NONBLOCK, closing them, filling them) reaches
this process's, and only the program's own bytes are counted as its output.
"""

import binascii
import os
import select
import time

from sbx_wire import INTERACTIVE, MAX_CHUNK, STDERR, STDOUT, json_loads, send

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

    def __init__(self, waiting, events, sink, out_fd=1, feed=None):
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
        # An interactive run's input (InputFeed): serviced in the same poll, so a program that never
        # reads its stdin can fill that pipe without ever holding up the relay of its output.
        self.feed = feed
        if feed is not None:
            feed.attach(self.poller)

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
        if not self.handlers and not (self.feed and self.feed.watched):
            time.sleep(max(0.0, timeout_s))
            return False
        ready = self.poller.poll(max(0, int(timeout_s * 1000)))
        for fd, revents in ready:
            if fd in self.handlers:
                self._read(fd)
            elif self.feed is not None:
                self.feed.ready(fd, revents)
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

    def wait_exit(self, pid, deadline, max_pause=0.002):
        """Reaps the child with wait4, for its own rusage (RUSAGE_CHILDREN would sum every test).
        Returns (status, rusage), or None when the deadline passes first (None: no deadline).
        Between polls its pipes are serviced: a child writing more than a pipe holds would block.
        `max_pause`: the longest poll while nothing happens (an interactive run waits long)."""
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
            # Something happened (the child's pipes closing as it exits among it): look again soon.
            pause = 0.0005 if self.poll_once(timeout) else min(pause * 2, max_pause)

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
        if self.feed is not None:
            self.feed.close()


MAX_QUEUED = INTERACTIVE["max_queued_bytes"]
WRITE_BYTES = 1 << 16


class InputFeed:
    """An interactive run's input: the worker's messages on this process's stdin (a LineReader;
    wire.json input.interactive) become the program's stdin, a pipe written without ever blocking.
    What the program has not taken waits in `queue`; past MAX_QUEUED this process stops reading its
    stdin until the program takes some, so a program that never reads costs a bounded buffer here
    and the worker's stream waits, never the relay. The pipe closes after the worker's eof (or the
    end of its stream) once the queue is written; the program's own end of it closing drops the rest.
    `last_input`: when the last data message came (monotonic), for the idle-input bound."""

    def __init__(self, reader, pipe_w, initial=b""):
        self.reader = reader
        self.pipe_w = pipe_w
        os.set_blocking(pipe_w, False)
        self.queue = bytearray(initial)
        self.eof = False
        self.last_input = None
        self.poller = None
        self.registered = {}

    @property
    def watched(self):
        return bool(self.registered)

    def attach(self, poller):
        self.poller = poller
        # Lines read with the job line (sent right behind it) are in the reader's buffer: poll
        # would never say so.
        self._take_lines()
        self._update()

    def ready(self, fd, revents):
        if fd == self.reader.fd:
            if self.reader.fill():
                self._take_lines()
            else:
                self.eof = True
        elif fd == self.pipe_w:
            self._write()
        self._update()

    def _take_lines(self):
        try:
            lines = self.reader.pending()
        except ValueError:
            lines, self.eof = [], True  # the worker broke the protocol: no more input, the run goes on
            self.reader.eof = True
        for line in lines:
            self._message(line)

    def _message(self, line):
        try:
            found = json_loads(line)
            if found.get("eof") is True:
                self.eof = True
            elif not self.eof:
                data = binascii.a2b_base64(found["data"].encode("ascii"), strict_mode=True)
                self.last_input = time.monotonic()
                if self.pipe_w is not None:
                    self.queue += data
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeEncodeError, binascii.Error):
            pass  # not a message: the worker's fault, and nothing of the program's

    def _write(self):
        try:
            del self.queue[: os.write(self.pipe_w, self.queue[:WRITE_BYTES])]
        except BlockingIOError:
            pass
        except OSError:
            # The program closed its stdin, or ended: nothing more can reach it.
            self.queue.clear()
            self._close_pipe()

    def _update(self):
        if self.pipe_w is not None and not self.queue and self.eof:
            self._close_pipe()
        want = {}
        if not self.reader.eof and len(self.queue) < MAX_QUEUED:
            want[self.reader.fd] = select.POLLIN
        if self.pipe_w is not None and self.queue:
            want[self.pipe_w] = select.POLLOUT
        for fd in set(self.registered) - set(want):
            self.poller.unregister(fd)
        for fd, mask in want.items():
            if self.registered.get(fd) != mask:
                self.poller.register(fd, mask)
        self.registered = want

    def _close_pipe(self):
        if self.pipe_w is None:
            return
        if self.registered.pop(self.pipe_w, None) is not None:
            self.poller.unregister(self.pipe_w)
        os.close(self.pipe_w)
        self.pipe_w = None

    def close(self):
        """The run is over: nothing more is read for it (done() discards the rest)."""
        for fd in list(self.registered):
            self.poller.unregister(fd)
        self.registered = {}
        self.queue.clear()
        self._close_pipe()


# How often an interactive run's CPU time is read: the CPU limit is enforced to within this.
CPU_CHECK_S = 0.02
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """CPU time the process has been charged so far, its threads together (/proc/<pid>/stat's utime
    and stime); None once it is gone."""
    try:
        fd = os.open("/proc/%d/stat" % pid, os.O_RDONLY)
        try:
            raw = os.read(fd, 4096)
        finally:
            os.close(fd)
        # After the command name, which may hold spaces and parentheses: fields 14 and 15 of the line.
        fields = raw[raw.rindex(b")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (OSError, ValueError, IndexError):
        return None


def wait_interactive(watch, pid, started, time_ms, bounds, cpu_base_us):
    """Reaps an interactive run's child, or stops at the first bound it reaches: its CPU time
    (time_ms; a program waiting for input uses none), the wall clock (wall_ms), or no input for
    idle_ms until the worker's eof. Returns (reaped or None, the bound: "cpu", "wall" or "idle")."""
    wall_ms, idle_ms = bounds
    wall_end = started + wall_ms / 1000.0
    cpu_base = (cpu_base_us or 0) / 1e6
    feed = watch.feed
    while True:
        now = time.monotonic()
        idle_end = None if feed.eof else max(started, feed.last_input or started) + idle_ms / 1000.0
        if now >= wall_end:
            return None, "wall"
        if idle_end is not None and now >= idle_end:
            return None, "idle"
        used = cpu_seconds(pid)
        if used is not None and used - cpu_base >= time_ms / 1000.0:
            return None, "cpu"
        check = min(wall_end, now + CPU_CHECK_S, idle_end or wall_end)
        reaped = watch.wait_exit(pid, check, max_pause=CPU_CHECK_S)
        if reaped is not None:
            return reaped, None
