"""Sandbox supervisor: the container's first process.

Reads one job frame (a single JSON line) from stdin, runs the user's code once
(or once per test case) in a fresh child process, enforces each time limit, and
writes a report line to stderr after each child is gone.

Children are forked from this process, which has already imported everything a
run needs (child.py, _ast, _json): a fork under gVisor's ptrace platform
costs about 50 ms where a new interpreter costs 65-90 ms. The first child is
forked before the frame arrives, so a warm sandbox answers without paying for
either. A child never runs more than one program, and this process never runs
user code.

The children's stdout and stderr are the container's own, so the worker sees
user output byte for byte and counts it itself. Reports and markers carry a
nonce the worker chose and only this process was told; user code could still
dig one out of memory, which is why the worker treats reports as hints about the
submitter's own run and never as facts about the host.
"""

import os
import select
import sys
import time

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 16 * 1024 * 1024
# Longest a child may take to reach the user's first line once it has its job.
STARTUP_BUDGET_S = 5.0
CHILD_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "child.py")
# The program's own uid and gid, never this process's (the worker starts this process as the
# sandbox's root with only SETUID, SETGID and KILL; see container-spec.ts). A program that cannot
# signal its supervisor cannot end the sandbox without a report, so a sandbox that ends that way was
# ended from outside (its runsc killed on the host), not by the program.
PROGRAM_UID = 10001
PROGRAM_GID = 10001


def become_program_user():
    """In a fresh child, before anything of a job: the program's uid, no groups, no capability left
    (a change of every uid away from 0 clears the permitted and effective sets)."""
    if os.geteuid() != 0:
        return  # started by hand as someone else: already unprivileged
    os.setgroups([])
    os.setresgid(PROGRAM_GID, PROGRAM_GID, PROGRAM_GID)
    os.setresuid(PROGRAM_UID, PROGRAM_UID, PROGRAM_UID)


def load_child_module():
    # -I keeps the script's directory off sys.path. Executed straight from its source file:
    # importlib.util would cost another 10 ms of imports under gVisor.
    module = type(sys)("sbx_child")
    module.__file__ = CHILD_PATH
    with open(CHILD_PATH, "rb") as source:
        exec(compile(source.read(), CHILD_PATH, "exec"), module.__dict__)
    return module


child = load_child_module()


def read_frame():
    line = sys.stdin.buffer.readline(MAX_FRAME_BYTES)
    if not line.endswith(b"\n"):
        raise ValueError("job frame missing or too large")
    frame = child.json_loads(line)
    if frame.get("v") != PROTOCOL_VERSION:
        raise ValueError("unsupported protocol version %r" % frame.get("v"))
    for spec in [frame, *(frame.get("tests") or [])]:
        args = spec.get("args", [])
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise ValueError("args must be a list of strings")
    return frame


def write_all(fd, data):
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
    except OSError:
        pass  # the child died before reading everything (an OOM kill): its wait status says so
    finally:
        os.close(fd)


class StatusEvents:
    """Lines the child writes on its status pipe: "start <monotonic>", "memory_error",
    "violation <json>", "exit". User code shares the pipe, so each is parsed defensively."""

    def __init__(self, fd):
        self.fd = fd
        self.buffer = b""
        self.start = None
        self.memory_error = False
        self.exited = False
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
            elif fields == [b"exit"]:
                self.exited = True

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


class WaitingChild:
    """A forked child blocked on its job pipe: nothing of any job is in it yet, except what
    this process had read when it forked (the frame, for the second test on)."""

    def __init__(self):
        job_r, job_w = os.pipe()
        status_r, status_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            # Only what this process has open: closing all 256 possible fds costs 256 syscalls.
            for fd in [int(name) for name in os.listdir("/proc/self/fd")]:
                if fd not in (1, 2, job_r, status_w):
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            try:
                become_program_user()
            except OSError:
                os._exit(70)  # never run a program as the supervisor's user
            try:
                child.serve(job_r, status_w)
            finally:
                os._exit(70)  # serve ends the process itself; getting here is a harness failure
        os.close(job_r)
        os.close(status_w)
        self.pid = pid
        self.job_w = job_w
        self.status_r = status_r


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
        pause = min(pause * 2, 0.002)


def parse_violation(raw):
    try:
        found = child.json_loads(raw)
        message = str(found["message"])[:500]
        line = found.get("line")
        return {"message": message, "line": line if isinstance(line, int) else None}
    except Exception:
        return {"message": "refused by the policy layer", "line": None}


def report(nonce, payload):
    line = "\n\x1esbx-report:%s:%s\n" % (nonce, child.json_dumps(payload))
    os.write(2, line.encode())


def run(waiting, code, stdin_text, args, time_ms, memory_mb, policy):
    """Hands one job to a waiting child and supervises it."""
    stdin = stdin_text.encode("utf-8", "surrogatepass")
    header = child.json_dumps(
        {
            "time_ms": time_ms,
            "memory_mb": memory_mb,
            "policy": policy,
            "args": args,
            "code": len(code),
            "stdin": len(stdin),
        }
    ).encode()
    handed = time.monotonic()
    write_all(waiting.job_w, header + b"\n" + code + stdin)

    events = StatusEvents(waiting.status_r)
    started = events.wait_for_start(handed + STARTUP_BUDGET_S) or handed
    reaped = wait_child(waiting.pid, started + time_ms / 1000.0)
    timed_out = reaped is None
    if timed_out:
        try:
            os.kill(waiting.pid, 9)
        except ProcessLookupError:
            pass
        reaped = wait_child(waiting.pid, None)
    ended = time.monotonic()
    events.drain()

    status, usage = reaped
    rc = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    # The kernel's CPU backstop fired before the wall clock: that is the time limit too, not a crash.
    # (User code may lower its own RLIMIT_CPU; dying of that stays a runtime error.)
    cpu_limit = not timed_out and rc in (-9, -24) and cpu >= child.cpu_limit_seconds(time_ms) - 0.01
    result = {
        "v": PROTOCOL_VERSION,
        "timed_out": timed_out or cpu_limit,
        "cpu_limit": cpu_limit,
        "exit_code": rc if rc >= 0 else 128 - rc,
        "signal": -rc if rc < 0 else None,
        "time": round(ended - started, 6),
        "cpu_time": round(cpu, 6),
        "max_rss_kb": usage.ru_maxrss,
        "memory_error": events.memory_error,
        # False when the program ended without its own exit path: killed, os._exit, or ended by gVisor.
        "ended_itself": events.exited,
        "violation": events.violation,
    }
    return result


def failed(result):
    return result["exit_code"] != 0 or result["timed_out"] or result["memory_error"] or result["violation"]


def worker_says_next():
    # Only the worker can tell a wrong answer (expected outputs never enter the sandbox): with
    # stop_on_failure it judges each test as its report arrives and answers "next" or "stop".
    return sys.stdin.buffer.readline(16) == b"next\n"


def done(nonce, exit_code):
    # Whatever the program left behind (a grandchild, a stray thread's process) goes first: this
    # process is PID 1, which kill(-1) spares, and nothing else may outlive the run.
    try:
        os.kill(-1, 9)
    except OSError:
        pass
    # The end of everything, on both streams: the worker answers once it has seen both. Then wait
    # for the worker to close stdin (or kill the sandbox): gVisor's teardown costs about 0.15 s of
    # CPU, and the worker chooses when to spend it, between jobs rather than during one.
    marker = ("\n\x1esbx-done:%s:%d\n" % (nonce, exit_code)).encode()
    os.write(1, marker)
    os.write(2, marker)
    try:
        while os.read(0, 65536):
            pass
    except OSError:
        pass
    os._exit(exit_code)


READY = b"\x1esbx-ready\n"


def main():
    waiting = WaitingChild()
    # First bytes on stdout, before any user code exists: the worker counts the sandbox as started
    # from here, and strips the marker.
    os.write(1, READY)
    try:
        frame = read_frame()
    except Exception as exc:  # the worker wrote a bad frame: that is an internal error
        sys.stderr.write("sbx harness: bad job frame: %s\n" % exc)
        sys.stderr.flush()
        os._exit(70)
    nonce = frame.pop("nonce")
    code = frame.pop("code").encode("utf-8", "surrogatepass")
    policy = frame.get("policy", "strict")
    tests = frame.get("tests")
    if tests is None:
        args = frame.get("args", [])
        result = run(waiting, code, frame.get("stdin", ""), args, frame["time_ms"], frame["memory_mb"], policy)
        report(nonce, result)
        done(nonce, result["exit_code"])
    # Test cases: one fresh child each, in order, each forked once the one before is gone (a fork
    # during a test contends with it inside the sandbox and only slows it). Each test ends with a
    # marker on stdout and its report on stderr, both carrying the nonce, so the worker can split
    # the streams per test. Expected outputs never enter the sandbox: the worker judges answers.
    stop_on_failure = frame.get("stop_on_failure")
    last = len(tests) - 1
    for index, test in enumerate(tests):
        if waiting is None:
            waiting = WaitingChild()
        args = test.get("args", [])
        result = run(waiting, code, test.get("stdin", ""), args, test["time_ms"], test["memory_mb"], policy)
        waiting = None
        result["test"] = index
        os.write(1, ("\n\x1esbx-end:%s:%d\n" % (nonce, index)).encode())
        report(nonce, result)
        if stop_on_failure and (failed(result) or (index < last and not worker_says_next())):
            break
    done(nonce, 0)


if __name__ == "__main__":
    main()
