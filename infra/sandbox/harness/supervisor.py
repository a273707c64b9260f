"""Sandbox supervisor: the container's first process.

Reads one job frame (a single JSON line) from stdin, runs the user's code in a
fresh child interpreter with the user's stdin, enforces the time limit, and
writes a report line to stderr after the child is gone.

The child's stdout and stderr are the container's own, so the worker sees user
output byte for byte and counts it itself. The report is marked with a nonce the
worker chose and only this process saw; user code could still forge one, which
is why the worker treats the report as a hint about the submitter's own run and
never as a fact about the host.
"""

import json
import os
import select
import subprocess
import sys
import threading
import time

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 16 * 1024 * 1024
# Longest the child interpreter may take to reach the user's first line.
STARTUP_BUDGET_S = 5.0
CHILD = "/opt/sbx/child.py"
CHILD_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/tmp",
    # glibc reserves 64 MB of address space per thread arena: keep RLIMIT_AS about real memory.
    "MALLOC_ARENA_MAX": "2",
}


def read_frame():
    line = sys.stdin.buffer.readline(MAX_FRAME_BYTES)
    if not line.endswith(b"\n"):
        raise ValueError("job frame missing or too large")
    frame = json.loads(line)
    if frame.get("v") != PROTOCOL_VERSION:
        raise ValueError("unsupported protocol version %r" % frame.get("v"))
    return frame


def write_all(fd, data):
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
    except OSError:
        pass  # the child exited without reading everything; not our failure
    finally:
        os.close(fd)


class StatusEvents:
    """Lines the child writes on its status pipe: "start <monotonic>", "memory_error",
    "violation <json>". User code shares the pipe, so each is parsed defensively."""

    def __init__(self, fd):
        self.fd = fd
        self.buffer = b""
        self.start = None
        self.memory_error = False
        self.violation = None
        self.closed = False

    def _read_once(self):
        chunk = os.read(self.fd, 4096)
        if not chunk:
            self.closed = True
            return
        # Bounded: user code holds this fd too and may write garbage to it.
        self.buffer = (self.buffer + chunk)[-4096:]
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            if line.startswith(b"violation ") and self.violation is None:
                self.violation = parse_violation(line[len(b"violation "):])
                continue
            fields = line.split()
            if len(fields) == 2 and fields[0] == b"start" and self.start is None:
                try:
                    self.start = float(fields[1])
                except ValueError:
                    pass
            elif fields == [b"memory_error"]:
                self.memory_error = True

    def wait_for_start(self, deadline):
        while self.start is None and not self.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.fd], [], [], remaining)[0]:
                break
            self._read_once()
        return self.start

    def drain(self):
        # The child is gone; whatever it wrote is in the pipe (grandchildren may hold it open).
        for _ in range(64):
            if self.closed or not select.select([self.fd], [], [], 0)[0]:
                break
            self._read_once()
        os.close(self.fd)


def wait_child(pid, deadline):
    """Reaps the child with wait4, for its own rusage (RUSAGE_CHILDREN would sum every test).
    Returns (status, rusage), or None when the deadline passes first."""
    pause = 0.0005
    while True:
        reaped_pid, status, usage = os.wait4(pid, os.WNOHANG if deadline is not None else 0)
        if reaped_pid:
            return status, usage
        if time.monotonic() >= deadline:
            return None
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, 0.005)


def parse_violation(raw):
    try:
        found = json.loads(raw)
        message = str(found["message"])[:500]
        line = found.get("line")
        return {"message": message, "line": line if isinstance(line, int) else None}
    except Exception:
        return {"message": "refused by the policy layer", "line": None}


def feed_stdin(pipe, data):
    try:
        pipe.write(data)
    except OSError:
        pass  # the program exited or closed its stdin early: normal
    finally:
        try:
            pipe.close()
        except OSError:
            pass


def report(nonce, payload):
    line = "\n\x1esbx-report:%s:%s\n" % (nonce, json.dumps(payload, separators=(",", ":")))
    os.write(2, line.encode())


def run(frame, stdin_text, time_ms, memory_mb):
    """One fresh child interpreter running the submission once."""
    code = frame["code"].encode("utf-8", "surrogatepass")
    stdin = stdin_text.encode("utf-8", "surrogatepass")
    time_limit = time_ms / 1000.0

    code_r, code_w = os.pipe()
    status_r, status_w = os.pipe()
    argv = [
        sys.executable, "-I", "-S", "-B", "-X", "utf8", CHILD,
        str(code_r), str(status_w), str(time_ms), str(memory_mb),
        frame.get("policy", "strict"),
    ]
    spawned = time.monotonic()
    child = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        env=CHILD_ENV,
        cwd="/tmp",
        pass_fds=(code_r, status_w),
        close_fds=True,
    )
    os.close(code_r)
    os.close(status_w)
    threading.Thread(target=write_all, args=(code_w, code), daemon=True).start()
    threading.Thread(target=feed_stdin, args=(child.stdin, stdin), daemon=True).start()

    events = StatusEvents(status_r)
    started = events.wait_for_start(spawned + STARTUP_BUDGET_S) or spawned
    reaped = wait_child(child.pid, started + time_limit)
    timed_out = reaped is None
    if timed_out:
        child.kill()
        reaped = wait_child(child.pid, None)
    ended = time.monotonic()
    events.drain()

    status, usage = reaped
    rc = os.waitstatus_to_exitcode(status)
    child.returncode = rc  # reaped here, so Popen must not wait for it again
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "v": PROTOCOL_VERSION,
        "timed_out": timed_out,
        "exit_code": rc if rc >= 0 else 128 - rc,
        "signal": -rc if rc < 0 else None,
        "time": round(ended - started, 6),
        "cpu_time": round(cpu, 6),
        "max_rss_kb": usage.ru_maxrss,
        "memory_error": events.memory_error,
        "violation": events.violation,
    }


def failed(result):
    return result["exit_code"] != 0 or result["timed_out"] or result["memory_error"] or result["violation"]


def main():
    try:
        frame = read_frame()
    except Exception as exc:  # the worker wrote a bad frame: that is an internal error
        sys.stderr.write("sbx harness: bad job frame: %s\n" % exc)
        os._exit(70)
    nonce = frame["nonce"]
    tests = frame.get("tests")
    if tests is None:
        result = run(frame, frame.get("stdin", ""), frame["time_ms"], frame["memory_mb"])
        report(nonce, result)
        os._exit(result["exit_code"])
    # Test cases: one fresh child each, in order. Each ends with a marker on stdout and its
    # report on stderr, both carrying the nonce, so the worker can split the streams per test.
    # Expected outputs never enter the sandbox: the worker judges answers itself.
    for index, test in enumerate(tests):
        result = run(frame, test.get("stdin", ""), test["time_ms"], test["memory_mb"])
        result["test"] = index
        os.write(1, ("\n\x1esbx-end:%s:%d\n" % (nonce, index)).encode())
        report(nonce, result)
        if frame.get("stop_on_failure") and failed(result):
            break
    os._exit(0)


if __name__ == "__main__":
    main()
