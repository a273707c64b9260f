"""sbx_relay: a child's pipes relayed as frames, its status lines, its exit (no Docker).

Real children (os.fork) on real pipes, built here rather than with sbx_processes.WaitingChild (which,
as root, would switch the child to the program's uid, and runs a job server in it).

    /usr/bin/python3 -m unittest discover -s test/harness -p 'test_*.py'
"""

import fcntl
import os
import random
import signal
import tempfile
import time
import unittest

import harness_path  # noqa: F401  (puts the harness on sys.path)
import sbx_wire as wire
from sbx_artifacts import NO_ARTIFACTS, ArtifactSink
from forked_child import spawn
from sbx_relay import ChildWatch, StatusEvents, parse_violation


def write_all(fd, data):
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            time.sleep(0.0005)


class Watched:
    """A child under a ChildWatch whose frames go to a temporary file."""

    def __init__(self, body):
        self.pid, self.pipes = spawn(body)
        self.out = tempfile.TemporaryFile()
        self.events = StatusEvents(self.pipes.status_r)
        self.sink = ArtifactSink(NO_ARTIFACTS)
        self.watch = ChildWatch(self.pipes, self.events, self.sink, out_fd=self.out.fileno())

    def finish(self, deadline_s=20):
        reaped = self.watch.wait_exit(self.pid, time.monotonic() + deadline_s)
        if reaped is None:
            os.kill(self.pid, signal.SIGKILL)
            self.watch.wait_exit(self.pid, None)
            self.out.close()
            raise AssertionError("the child did not exit in %s s" % deadline_s)
        self.watch.drain()
        self.out.seek(0)
        self.frames = wire.FrameReader().feed(self.out.read())
        self.out.close()
        return os.waitstatus_to_exitcode(reaped[0])

    def stream(self, kind):
        return b"".join(payload for k, payload in self.frames if k == kind)


def pieces(seed, total, sizes):
    rng = random.Random(seed)
    out, n = [], 0
    while n < total:
        piece = rng.randbytes(rng.choice(sizes))
        out.append(piece)
        n += len(piece)
    return out


class RelayTests(unittest.TestCase):
    def test_interleaved_output_past_a_pipe_buffer_comes_out_exactly_in_order(self):
        # Writes of 1 byte to more than a frame's worth, more than 64 KiB on each pipe in all.
        out = pieces(1, 300_000, (1, 7, 100, 4096, 20_000, wire.MAX_CHUNK + 5))
        err = pieces(2, 200_000, (1, 3, 500, 9000, 70_000))

        def body(status_w, artifact_w):
            for i in range(max(len(out), len(err))):
                if i < len(out):
                    write_all(1, out[i])
                if i < len(err):
                    write_all(2, err[i])

        child = Watched(body)
        self.assertEqual(child.finish(), 0)
        self.assertEqual(child.stream(wire.STDOUT), b"".join(out))
        self.assertEqual(child.stream(wire.STDERR), b"".join(err))
        self.assertEqual({k for k, _ in child.frames}, {wire.STDOUT, wire.STDERR})
        self.assertTrue(all(0 < len(p) <= wire.MAX_CHUNK for _, p in child.frames))
        self.assertEqual(child.watch.relayed, len(b"".join(out)) + len(b"".join(err)))
        self.assertFalse(child.watch.open)

    def test_a_child_making_its_own_stdout_and_stderr_nonblocking_cannot_break_the_relay(self):
        out = pieces(3, 200_000, (10, 65536, 100_000))

        def body(status_w, artifact_w):
            for fd in (1, 2):
                fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
            for piece in out:
                write_all(1, piece)  # retries on EAGAIN: it is the program's own problem
                write_all(2, piece[:10])
            os.write(status_w, b"exit\n")

        child = Watched(body)
        self.assertEqual(child.finish(), 0)
        self.assertEqual(child.stream(wire.STDOUT), b"".join(out))
        self.assertEqual(child.stream(wire.STDERR), b"".join(p[:10] for p in out))
        self.assertTrue(child.events.exited)

    def test_the_relay_reads_its_own_ends_whatever_the_child_does_to_its_ends(self):
        def body(status_w, artifact_w):
            for fd in (1, 2):
                fcntl.fcntl(fd, fcntl.F_SETFL, os.O_NONBLOCK)
            os.write(status_w, b"set\n")
            time.sleep(0.2)
            os.write(1, b"still relayed")

        child = Watched(body)
        self.assertEqual(os.read(child.pipes.status_r, 100), b"set\n")  # blocks until the child set its flags
        # The child's O_NONBLOCK is on its own open file description, never on the relay's read ends.
        for fd in (child.pipes.out_r, child.pipes.err_r):
            self.assertEqual(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK, 0)
        self.assertEqual(child.finish(), 0)
        self.assertEqual(child.stream(wire.STDOUT), b"still relayed")

    def test_a_child_closing_its_stdout_early_still_gets_its_stderr_relayed(self):
        def body(status_w, artifact_w):
            os.write(1, b"before close")
            os.close(1)
            time.sleep(0.05)
            write_all(2, b"e" * 100_000)

        child = Watched(body)
        self.assertEqual(child.finish(), 0)
        self.assertEqual(child.stream(wire.STDOUT), b"before close")
        self.assertEqual(child.stream(wire.STDERR), b"e" * 100_000)

    def test_wait_exit_returns_none_at_the_deadline_then_reaps_the_killed_child(self):
        child = Watched(lambda status_w, artifact_w: time.sleep(30))
        started = time.monotonic()
        self.assertIsNone(child.watch.wait_exit(child.pid, started + 0.3))
        elapsed = time.monotonic() - started
        self.assertGreaterEqual(elapsed, 0.3)
        self.assertLess(elapsed, 1.5)
        os.kill(child.pid, signal.SIGKILL)
        status, usage = child.watch.wait_exit(child.pid, None)
        self.assertEqual(os.waitstatus_to_exitcode(status), -signal.SIGKILL)
        self.assertGreaterEqual(usage.ru_maxrss, 0)
        child.watch.drain()
        self.assertFalse(child.watch.open)

    def test_wait_for_start_gets_the_start_line_or_none_when_the_child_exits_first(self):
        def starts(status_w, artifact_w):
            os.write(status_w, b"base 1234\n")
            time.sleep(0.05)
            os.write(status_w, b"start 42.5\n")
            os.write(1, b"ran")

        child = Watched(starts)
        self.assertEqual(child.watch.wait_for_start(time.monotonic() + 5), 42.5)
        self.assertEqual(child.events.base_rss_kb, 1234)
        self.assertEqual(child.finish(), 0)
        self.assertEqual(child.stream(wire.STDOUT), b"ran")

        silent = Watched(lambda status_w, artifact_w: os._exit(3))
        started = time.monotonic()
        self.assertIsNone(silent.watch.wait_for_start(started + 5))
        self.assertLess(time.monotonic() - started, 2, "the status pipe's end says the child is gone")
        self.assertEqual(silent.finish(), 3)

    def test_figure_frames_reach_the_sink_while_the_child_runs(self):
        data = bytes(range(256)) * 600  # more than the artifact pipe holds

        def body(status_w, artifact_w):
            header = wire.json_dumps({"name": "figure-1.png", "mime": "image/png", "size": len(data)}).encode()
            write_all(artifact_w, header + b"\n" + data)

        child = Watched(body)
        child.sink = ArtifactSink({"format": "png", "max_count": 1, "max_bytes": 1 << 20})
        child.watch = ChildWatch(child.pipes, child.events, child.sink, out_fd=child.out.fileno())
        self.assertEqual(child.finish(), 0)
        self.assertEqual(child.sink.kept, [("figure-1.png", "image/png", data)])


class StatusLineTests(unittest.TestCase):
    LINES = b'base 1234\ncpu_base 870000\nstart 12.5\nmemory_error\nviolation {"message":"no sockets","line":3}\nexit\n'

    def test_the_documented_lines_split_at_every_byte(self):
        for cut in range(len(self.LINES) + 1):
            events = StatusEvents(-1)
            events.feed(self.LINES[:cut])
            events.feed(self.LINES[cut:])
            self.assertEqual(events.base_rss_kb, 1234)
            self.assertEqual(events.cpu_base_us, 870000)
            self.assertEqual(events.start, 12.5)
            self.assertTrue(events.memory_error)
            self.assertTrue(events.exited)
            self.assertEqual(events.violation, {"message": "no sockets", "line": 3})

    def test_nothing_is_set_by_garbage_and_an_unfinished_line_waits(self):
        events = StatusEvents(-1)
        events.feed(b"start abc\nbase 12a\nbase -5\ncpu_base 1.5\ncpu_base -1\nexit now\nmemory_error!\nstartx 1\n\n\x00\xff\nexit")
        self.assertEqual(
            (events.start, events.base_rss_kb, events.cpu_base_us, events.memory_error, events.exited, events.violation),
            (None, None, None, False, False, None),
        )
        events.feed(b"\n")
        self.assertTrue(events.exited)

    def test_the_first_start_base_and_violation_win(self):
        events = StatusEvents(-1)
        # The child writes its own before the program runs: a program's forged line comes second.
        events.feed(b'base 1\ncpu_base 10\nstart 5.0\nviolation {"message":"first","line":1}\n')
        events.feed(b'base 2\ncpu_base 99999999\nstart 1.0\nviolation {"message":"second","line":2}\n')
        self.assertEqual(
            (events.base_rss_kb, events.cpu_base_us, events.start, events.violation["message"]), (1, 10, 5.0, "first")
        )

    def test_a_start_that_is_not_finite_is_no_start(self):
        for value in (b"nan", b"inf", b"-inf", b"NaN", b"1e999"):
            events = StatusEvents(-1)
            events.feed(b"start " + value + b"\n")
            self.assertIsNone(events.start, value)
        events = StatusEvents(-1)
        events.feed(b"start nan\nstart 3.25\n")
        self.assertEqual(events.start, 3.25)

    def test_a_flood_after_the_start_line_in_the_same_read_loses_no_line(self):
        # The child writes its start line, the program floods the pipe at once: one read can hold both.
        events = StatusEvents(-1)
        events.feed(b"base 7\nstart 5.0\n" + b"x" * 60_000 + b"\nstart 999\n")
        self.assertEqual((events.base_rss_kb, events.start), (7, 5.0))
        # A long violation line (a long module name in its message) keeps its keyword.
        message = "import of 'os." + "a" * 10_000 + "'"
        long_line = b"violation " + wire.json_dumps({"message": message, "line": 1}).encode()
        events = StatusEvents(-1)
        events.feed(long_line + b"\n")
        self.assertEqual(events.violation["line"], 1)
        self.assertEqual(len(events.violation["message"]), 500)
        # Cut across reads, too long to hold whole: still a violation, its message the generic one at worst.
        events = StatusEvents(-1)
        for at in range(0, len(long_line), 4096):
            events.feed(long_line[at : at + 4096])
        events.feed(b"\n")
        self.assertIsNotNone(events.violation)

    def test_the_buffer_is_bounded(self):
        events = StatusEvents(-1)
        for _ in range(10):
            events.feed(b"y" * 65536)
        self.assertLessEqual(len(events.buffer), 4096)
        events.feed(b"\nexit\n")
        self.assertTrue(events.exited)

    def test_a_huge_base_is_ignored_without_raising(self):
        events = StatusEvents(-1)
        events.feed(b"base " + b"9" * 5000 + b"\n")
        self.assertIsNone(events.base_rss_kb)

    def test_violations_are_parsed_defensively(self):
        generic = {"message": "refused by the policy layer", "line": None}
        self.assertEqual(parse_violation(b"not json"), generic)
        self.assertEqual(parse_violation(b"[1]"), generic)
        self.assertEqual(parse_violation(b'{"line": 3}'), generic)
        self.assertEqual(parse_violation(b'{"message": "x", "line": 3} tail'), generic)
        self.assertEqual(parse_violation(b'{"message": 5, "line": "3"}'), {"message": "5", "line": None})
        # Only a line number the worker reads as one: never a bool, a float or a huge int.
        for line in (b"true", b"1.5", b"-1", b"1" + b"0" * 40, b"null"):
            self.assertEqual(parse_violation(b'{"message": "m", "line": ' + line + b"}")["line"], None, line)
        long_message = wire.json_dumps({"message": "\U0001f600" * 600, "line": 0}).encode()
        self.assertEqual(parse_violation(long_message), {"message": "\U0001f600" * 500, "line": 0})


if __name__ == "__main__":
    unittest.main()
