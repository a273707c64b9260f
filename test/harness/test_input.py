"""Interactive input (no Docker): the supervisor's stdin read raw (sbx_wire.LineReader), the worker's
messages fed to a program's stdin pipe without ever blocking the relay (sbx_relay.InputFeed), the
interactive run's bounds (sbx_relay.wait_interactive), and the child's stdout flushed as it runs.

Real children (os.fork) on real pipes; the "worker" is a pipe this test writes messages to.

    /usr/bin/python3 -m unittest discover -s test/harness -p 'test_*.py'
"""

import _thread
import base64
import io
import os
import select
import signal
import sys
import tempfile
import threading
import time
import unittest

import harness_path  # noqa: F401  (puts the harness on sys.path)
import child as child_module
import sbx_wire as wire
from forked_child import spawn
from sbx_artifacts import NO_ARTIFACTS, ArtifactSink
from sbx_relay import MAX_QUEUED, ChildWatch, InputFeed, StatusEvents, cpu_seconds, wait_interactive


def data_line(data):
    return wire.json_dumps({"data": base64.b64encode(data).decode()}).encode() + b"\n"


EOF_LINE = b'{"eof":true}\n'


class LineReaderTests(unittest.TestCase):
    def reader(self, chunks, max_line=wire.MAX_INPUT_LINE):
        r, w = os.pipe()

        def write():
            try:
                for chunk in chunks:
                    os.write(w, chunk)
                    time.sleep(0.005)
            except BrokenPipeError:
                pass  # the reader gave up on an overlong line
            os.close(w)

        threading.Thread(target=write, daemon=True).start()
        self.addCleanup(os.close, r)
        return wire.LineReader(r, max_line)

    def test_lines_split_anywhere_come_back_whole_and_the_rest_at_the_end(self):
        reader = self.reader([b'{"v":', b"2}\nsec", b"ond\n", b"\nlast"])
        self.assertEqual(reader.readline(), b'{"v":2}\n')
        self.assertEqual(reader.readline(), b"second\n")
        self.assertEqual(reader.readline(), b"\n")
        self.assertEqual(reader.readline(), b"last")
        self.assertEqual(reader.readline(), b"")

    def test_what_came_with_the_job_line_stays_for_pending_not_in_a_hidden_buffer(self):
        reader = self.reader([b"job\n" + data_line(b"a") + EOF_LINE + b'{"da'])
        self.assertEqual(reader.readline(), b"job\n")
        self.assertEqual(reader.pending(), [data_line(b"a"), EOF_LINE])
        self.assertEqual(bytes(reader.buffer), b'{"da', "an unfinished line waits")

    def test_a_line_past_the_bound_is_refused(self):
        reader = self.reader([b"x" * 100, b"\n"], max_line=50)
        with self.assertRaises(ValueError):
            reader.readline()


class Program:
    """A forked child whose stdin is the read end of an input pipe, under a ChildWatch with an
    InputFeed; `send` writes messages on the feed's "stdin" as the worker would."""

    def __init__(self, body, initial=b""):
        in_r, in_w = os.pipe()
        self.worker_r, self.worker_w = os.pipe()

        def run(status_w, artifact_w):
            for fd in (in_w, self.worker_r, self.worker_w):
                os.close(fd)
            os.dup2(in_r, 0)
            os.close(in_r)
            body(status_w)

        self.pid, self.pipes = spawn(run)
        os.close(in_r)
        self.out = tempfile.TemporaryFile()
        self.events = StatusEvents(self.pipes.status_r)
        self.feed = InputFeed(wire.LineReader(self.worker_r), in_w, initial)
        self.watch = ChildWatch(self.pipes, self.events, ArtifactSink(NO_ARTIFACTS), self.out.fileno(), self.feed)

    def send(self, raw):
        try:
            wire.write_fully(self.worker_w, raw)
        except OSError:
            pass  # the run is over (a late timer): nothing reads it any more

    def send_later(self, raw, delay=0.0):
        """From a thread: a write of more than a pipe holds waits for the feed to read it."""
        timer = threading.Timer(delay, self.send, (raw,))
        timer.start()
        return timer

    def finish(self, deadline_s=20, reaped=None):
        reaped = reaped or self.watch.wait_exit(self.pid, time.monotonic() + deadline_s)
        if reaped is None:
            os.kill(self.pid, signal.SIGKILL)
            reaped = self.watch.wait_exit(self.pid, None)
        self.watch.drain()
        os.close(self.worker_w)
        os.close(self.worker_r)
        self.out.seek(0)
        self.frames = wire.FrameReader().feed(self.out.read())
        self.out.close()
        return os.waitstatus_to_exitcode(reaped[0])

    def stdout(self):
        return b"".join(p for k, p in self.frames if k == wire.STDOUT)

    def serve_for(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.watch.poll_once(0.01)


def echo_lines(status_w):
    """Reads stdin line by line (as input() does) and echoes each, then says how it ended."""
    while True:
        line = os.read(0, 65536)
        if not line:
            os.write(1, b"<eof>")
            return
        os.write(1, b"got:" + line)


class InputFeedTests(unittest.TestCase):
    def test_input_sent_after_the_start_reaches_the_program_then_eof_closes_its_stdin(self):
        program = Program(echo_lines, initial=b"first\n")
        program.serve_for(0.1)
        program.send(data_line(b"second\n"))
        program.serve_for(0.1)
        program.send(data_line(b"\x00\xff binary\n") + EOF_LINE + data_line(b"after eof\n"))
        self.assertEqual(program.finish(), 0)
        self.assertEqual(program.stdout(), b"got:first\ngot:second\ngot:\x00\xff binary\n<eof>")
        self.assertTrue(program.feed.eof)
        self.assertIsNotNone(program.feed.last_input)

    def test_the_worker_closing_its_stream_is_eof_too_and_garbage_is_ignored(self):
        program = Program(echo_lines)
        program.send(b"not json\n" + b'{"data": 5}\n' + b'{"data": "!!!"}\n' + b"[]\n" + data_line(b"ok\n"))
        program.serve_for(0.1)
        os.close(program.worker_w)
        program.worker_w = os.open(os.devnull, os.O_WRONLY)  # for finish() to close
        self.assertEqual(program.finish(), 0)
        self.assertEqual(program.stdout(), b"got:ok\n<eof>")

    def test_a_program_that_never_reads_cannot_stall_the_relay_and_the_queue_stays_bounded(self):
        def never_reads(status_w):
            for i in range(10):
                os.write(1, b"tick %d\n" % i)
                time.sleep(0.05)
            time.sleep(30)

        program = Program(never_reads)
        sent = {"bytes": 0, "stop": False}
        piece = 60_000

        def flood():  # as the worker would, until the feed stops reading and this blocks
            while sent["bytes"] < 8 * MAX_QUEUED and not sent["stop"]:
                program.send(data_line(b"y" * piece))
                sent["bytes"] += piece

        flooding = threading.Thread(target=flood)
        flooding.start()
        program.serve_for(1.0)
        sent["stop"] = True
        # What the program's pipe holds, the feed's queue, and what waits in the worker's pipe.
        self.assertLess(sent["bytes"], MAX_QUEUED + 4 * 65536 + 2 * piece, "the feed stopped reading")
        self.assertLessEqual(len(program.feed.queue), MAX_QUEUED + piece)
        os.kill(program.pid, signal.SIGKILL)
        program.serve_for(0.2)  # its input pipe is gone now: the rest is read and dropped
        flooding.join()
        program.finish()
        self.assertEqual(program.stdout(), b"".join(b"tick %d\n" % i for i in range(10)), "relayed all along")

    def test_a_program_closing_its_stdin_drops_what_is_queued_without_an_error(self):
        def closes_stdin(status_w):
            os.close(0)
            time.sleep(0.2)
            os.write(1, b"done")

        program = Program(closes_stdin)
        program.send_later(data_line(b"z" * 300_000))
        self.assertEqual(program.finish(), 0)
        self.assertEqual(program.stdout(), b"done")
        self.assertEqual(len(program.feed.queue), 0)
        self.assertIsNone(program.feed.pipe_w)


class BoundsTests(unittest.TestCase):
    def bounded(self, body, time_ms=5000, wall_ms=5000, idle_ms=5000, inputs=()):
        program = Program(body)
        timers = [program.send_later(raw, delay) for delay, raw in inputs]
        started = time.monotonic()
        reaped, bound = wait_interactive(program.watch, program.pid, started, time_ms, (wall_ms, idle_ms), 0)
        elapsed = time.monotonic() - started
        if reaped is None:
            os.kill(program.pid, signal.SIGKILL)
        for timer in timers:
            timer.cancel()
        program.finish(reaped=reaped)
        return reaped, bound, elapsed

    def test_no_input_for_idle_ms_ends_a_program_waiting_forever(self):
        reaped, bound, elapsed = self.bounded(echo_lines, idle_ms=300)
        self.assertIsNone(reaped)
        self.assertEqual(bound, "idle")
        self.assertGreaterEqual(elapsed, 0.3)
        self.assertLess(elapsed, 1.0)

    def test_input_keeps_the_idle_bound_away_until_the_wall_bound(self):
        inputs = [(0.1 * i, data_line(b"%d\n" % i)) for i in range(1, 9)]
        reaped, bound, elapsed = self.bounded(echo_lines, wall_ms=700, idle_ms=250, inputs=inputs)
        self.assertEqual(bound, "wall")
        self.assertGreaterEqual(elapsed, 0.7)
        self.assertLess(elapsed, 1.3)

    def test_after_eof_only_the_wall_bound_is_left(self):
        def sleeps(status_w):
            time.sleep(30)

        reaped, bound, elapsed = self.bounded(sleeps, wall_ms=600, idle_ms=100, inputs=[(0.05, EOF_LINE)])
        self.assertEqual(bound, "wall")

    def test_cpu_time_past_time_ms_ends_a_spinning_program_waiting_does_not(self):
        def spins(status_w):
            while True:
                pass

        reaped, bound, elapsed = self.bounded(spins, time_ms=300)
        self.assertEqual(bound, "cpu")
        self.assertGreaterEqual(elapsed, 0.3)
        reaped, bound, elapsed = self.bounded(echo_lines, time_ms=100, idle_ms=500)
        self.assertEqual(bound, "idle", "a program blocked on input uses no CPU")

    def test_a_program_that_ends_is_reaped(self):
        reaped, bound, _ = self.bounded(echo_lines, inputs=[(0.05, data_line(b"x\n") + EOF_LINE)])
        self.assertIsNotNone(reaped)
        self.assertIsNone(bound)

    def test_cpu_seconds_reads_a_live_process_and_none_once_it_is_gone(self):
        self.assertIsInstance(cpu_seconds(os.getpid()), float)
        self.assertIsNone(cpu_seconds(2**22 + 12345))


def with_flushed_stdout(fd, body, delay=0.02):
    """In a forked child: sys.stdout block-buffered on `fd`, made flushed_stdout(), its flusher
    started, then body()."""
    sys.stdout = open(fd, "w", encoding="utf-8", closefd=False)  # block-buffered: a pipe
    start = child_module.flushed_stdout(delay)
    start()
    body()


class FlushedStdoutTests(unittest.TestCase):
    def test_printed_output_leaves_within_the_delay_though_stdout_is_a_block_buffered_pipe(self):
        def body():
            print("first")
            time.sleep(1)
            print("second", end="")
            time.sleep(1)
            sys.stdout.close()  # the flusher then stops, quietly
            time.sleep(0.1)
            os.write(2, b"done")

        pid, pipes = spawn(lambda status_w, artifact_w: with_flushed_stdout(1, body))
        started = time.monotonic()
        ready, _, _ = select.select([pipes.out_r], [], [], 0.7)
        self.assertEqual(ready, [pipes.out_r], "the first line came long before a flush or the end")
        self.assertEqual(os.read(pipes.out_r, 100), b"first\n")
        self.assertLess(time.monotonic() - started, 0.5)
        ready, _, _ = select.select([pipes.out_r], [], [], 1.7)
        self.assertEqual(os.read(pipes.out_r, 100), b"second", "no newline needed either")
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        self.assertEqual(os.read(pipes.err_r, 100), b"done", "nothing on stderr from the flusher")
        for fd in (pipes.out_r, pipes.err_r, pipes.status_r, pipes.artifact_r):
            os.close(fd)

    def test_many_lines_go_in_few_writes_and_an_idle_program_costs_no_wakeups(self):
        r, w = os.pipe()

        def body():
            for i in range(20000):
                print(i)
            time.sleep(0.1)
            before = cpu_seconds(os.getpid())
            time.sleep(1.0)  # nothing written: the flusher sleeps on its lock
            os.write(2, b"%.3f" % (cpu_seconds(os.getpid()) - before))

        pid, pipes = spawn(lambda status_w, artifact_w: (os.close(r), with_flushed_stdout(w, body)))
        os.close(w)
        reads = []
        while True:
            chunk = os.read(r, 1 << 20)
            if not chunk:
                break
            reads.append(chunk)
            time.sleep(0.001)
        os.waitpid(pid, 0)
        self.assertEqual(b"".join(reads), b"".join(b"%d\n" % i for i in range(20000)))
        self.assertLess(len(reads), 200, "block writes, not one per line")
        self.assertLessEqual(float(os.read(pipes.err_r, 100)), 0.02, "CPU while idle")
        for fd in (r, pipes.out_r, pipes.err_r, pipes.status_r, pipes.artifact_r):
            os.close(fd)

    def test_the_new_stdout_is_the_same_stream_to_the_program_and_leads_nowhere_of_the_harness(self):
        r, w = os.pipe()

        def body():
            time.sleep(0.05)  # the flusher is up, waiting on its lock
            out = sys.stdout
            facts = [
                out is sys.__stdout__,
                isinstance(out, io.TextIOWrapper),
                out.name,
                out.mode,
                out.encoding,
                out.line_buffering,
                type(out).write.__globals__ == {"__builtins__": {"RuntimeError": RuntimeError}},
                "child" not in repr(type(out)),
                [set(f.f_globals) <= {"__builtins__"} for tid, f in sys._current_frames().items() if tid != _thread.get_ident()],
            ]
            sys.stderr.write(repr(facts))
            sys.stderr.flush()

        pid, pipes = spawn(lambda status_w, artifact_w: (os.close(r), with_flushed_stdout(w, body)))
        os.close(w)
        os.waitpid(pid, 0)
        facts = os.read(pipes.err_r, 4096).decode()
        self.assertEqual(facts, repr([True, True, w, "w", "utf-8", False, True, True, [True]]))
        for fd in (r, pipes.out_r, pipes.err_r, pipes.status_r, pipes.artifact_r):
            os.close(fd)


if __name__ == "__main__":
    unittest.main()
