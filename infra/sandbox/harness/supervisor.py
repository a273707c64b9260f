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
import stat
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
# Where a standard-profile program leaves files that come back as artifacts (see collect_outputs).
OUTPUTS_DIR = "/tmp/outputs"
# Bounds of the walk under OUTPUTS_DIR: entries looked at, folder depth.
MAX_OUTPUT_ENTRIES = 4096
MAX_OUTPUT_DEPTH = 16
MAX_ARTIFACT_NAME = 200
# Names of dropped artifacts the report lists (the count has no bound).
MAX_DROPPED_NAMES = 20
NO_ARTIFACTS = {"format": "png", "max_count": 0, "max_bytes": 0}
OUTPUT_MIMES = {
    "png": "image/png",
    "svg": "image/svg+xml",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "csv": "text/csv",
    "json": "application/json",
    "txt": "text/plain",
    "html": "text/html",
    "htm": "text/html",
    "pdf": "application/pdf",
}


def become_program_user():
    """In a fresh child, before anything of a job: the program's uid, no groups, no capability left
    (a change of every uid away from 0 clears the permitted and effective sets)."""
    if os.geteuid() != 0:
        return  # started by hand as someone else: already unprivileged
    os.setgroups([])
    os.setresgid(PROGRAM_GID, PROGRAM_GID, PROGRAM_GID)
    os.setresuid(PROGRAM_UID, PROGRAM_UID, PROGRAM_UID)


def load_source_module(name, path):
    # -I keeps the script's directory off sys.path. Executed straight from its source file:
    # importlib.util would cost another 10 ms of imports under gVisor.
    module = type(sys)(name)
    module.__file__ = path
    with open(path, "rb") as source:
        exec(compile(source.read(), path, "exec"), module.__dict__)
    return module


child = load_source_module("sbx_child", CHILD_PATH)


def preload_environment(path="/opt/sbx/preload.py"):
    # The environment's libraries (python-data: numpy, pandas, matplotlib), imported here once, before
    # the first fork, so every child has them for free. Images of the plain environment have no file.
    return load_source_module("sbx_preload", path) if os.path.exists(path) else None


preload = preload_environment()


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
        # The child's resident memory before the program (the preloaded libraries), in KiB.
        self.base_rss_kb = None
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
            elif len(fields) == 2 and fields[0] == b"base" and self.base_rss_kb is None and fields[1].isdigit():
                self.base_rss_kb = int(fields[1])
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
        # Figures the child sends back (child.FigureSink), read while it runs (ArtifactSink).
        artifact_r, artifact_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            # Only what this process has open: closing all 256 possible fds costs 256 syscalls.
            for fd in [int(name) for name in os.listdir("/proc/self/fd")]:
                if fd not in (1, 2, job_r, status_w, artifact_w):
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            try:
                become_program_user()
            except OSError:
                os._exit(70)  # never run a program as the supervisor's user
            try:
                child.serve(job_r, status_w, artifact_w)
            finally:
                os._exit(70)  # serve ends the process itself; getting here is a harness failure
        os.close(job_r)
        os.close(status_w)
        os.close(artifact_w)
        self.pid = pid
        self.job_w = job_w
        self.status_r = status_r
        self.artifact_r = artifact_r


def wait_child(pid, deadline, sink=None):
    """Reaps the child with wait4, for its own rusage (RUSAGE_CHILDREN would sum every test).
    Returns (status, rusage), or None when the deadline passes first. Between polls it reads the
    artifact pipe (a child writing a multi-MB figure would otherwise block on the full pipe)."""
    pause = 0.0005
    while True:
        reaped_pid, status, usage = os.wait4(pid, os.WNOHANG if deadline is not None else 0)
        if reaped_pid:
            return status, usage
        if time.monotonic() >= deadline:
            return None
        timeout = min(pause, max(0.0, deadline - time.monotonic()))
        if sink is not None and sink.open:
            if select.select([sink.fd], [], [], timeout)[0]:
                sink.read_once()
                continue  # more may be coming: poll again at once
        else:
            time.sleep(timeout)
        pause = min(pause * 2, 0.002)


def clean_name(name):
    """An artifact name as it may leave the sandbox: a relative path of printable characters, no
    empty, "." or ".." segment, at most MAX_ARTIFACT_NAME characters; None otherwise."""
    if not isinstance(name, str) or not 0 < len(name) <= MAX_ARTIFACT_NAME or not name.isprintable():
        return None
    if "\\" in name or any(part in ("", ".", "..") for part in name.split("/")):
        return None
    return name


def shown_name(name):
    """Any name, made printable and short, for the report's list of dropped artifacts."""
    text = name if isinstance(name, str) else repr(name)
    return "".join(c if c.isprintable() else "?" for c in text[:MAX_ARTIFACT_NAME])


def clean_mime(mime):
    if not isinstance(mime, str) or not 2 < len(mime) <= 100 or not mime.isascii() or mime.count("/") != 1:
        return None
    return mime if all(c.isalnum() or c in "+-./" for c in mime) else None


def artifact_spec(raw):
    """The frame's "artifacts" ({format, max_count, max_bytes}); max_count 0 (nothing collected)
    when it is absent or malformed."""
    spec = dict(NO_ARTIFACTS)
    if isinstance(raw, dict):
        if raw.get("format") in ("png", "svg"):
            spec["format"] = raw["format"]
        for key, bound in (("max_count", 10000), ("max_bytes", 1 << 30)):
            value = raw.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                spec[key] = min(value, bound)
    return spec


class ArtifactSink:
    """A run's artifacts in order, within the job's caps: the child's figure frames from the
    artifact pipe while it runs (a header line {"name","mime","size"} then size bytes, or
    {"dropped": name}), then, in the standard profile, the files under OUTPUTS_DIR. Past a cap, what
    fit is kept and everything after is dropped and counted. User code holds the pipe too: frames
    are parsed defensively (garbage is skipped up to the next newline) and no more than max_bytes of
    content is ever held."""

    HEADER_MAX = 4096

    def __init__(self, fd, spec):
        self.fd = fd
        self.open = True
        self.max_count = spec["max_count"]
        self.max_bytes = spec["max_bytes"]
        self.kept = []  # (name, mime, data)
        self.kept_bytes = 0
        self.names = set()
        self.dropped = 0
        self.dropped_names = []
        self.full = False
        self.line = b""
        self.skipping = False  # inside a line longer than HEADER_MAX: not a header
        self.body_left = 0
        self.body = None  # a bytearray while keeping a frame's content, None while discarding it
        self.body_meta = None

    def drop(self, name, cap=True):
        # A cap reached: this one and everything after it. (An unusable name drops only itself.)
        self.full = self.full or cap
        self.dropped += 1
        if len(self.dropped_names) < MAX_DROPPED_NAMES:
            self.dropped_names.append(shown_name(name))

    def offer(self, name, size):
        """Whether an artifact of `size` bytes still fits; counted as dropped when not."""
        if not self.full and len(self.kept) < self.max_count and self.kept_bytes + size <= self.max_bytes:
            return True
        self.drop(name)
        return False

    def add(self, name, mime, data):
        self.kept.append((name, mime, data))
        self.kept_bytes += len(data)
        self.names.add(name)

    def unique(self, name):
        """`name`, or name-2.ext, name-3.ext, ... when an earlier artifact has it (a file named like a figure)."""
        if name not in self.names:
            return name
        stem, dot, ext = name.rpartition(".")
        if not dot or "/" in ext:
            stem, dot, ext = name, "", ""
        n = 2
        while "%s-%d%s%s" % (stem, n, dot, ext) in self.names:
            n += 1
        return "%s-%d%s%s" % (stem, n, dot, ext)

    def read_once(self):
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            self.close()
            return
        self.feed(chunk)

    def feed(self, chunk):
        at, end = 0, len(chunk)
        while at < end:
            if self.body_left:
                n = min(self.body_left, end - at)
                if self.body is not None:
                    self.body += chunk[at : at + n]
                at += n
                self.body_left -= n
                if not self.body_left:
                    self.end_body()
                continue
            newline = chunk.find(b"\n", at)
            if newline < 0:
                if not self.skipping:
                    self.line += chunk[at:]
                    if len(self.line) > self.HEADER_MAX:
                        self.line, self.skipping = b"", True
                return
            line, self.line = self.line + chunk[at:newline], b""
            at = newline + 1
            if self.skipping or len(line) > self.HEADER_MAX:
                self.skipping = False
                continue
            self.header(line)

    def header(self, line):
        try:
            found = child.json_loads(line)
        except Exception:
            return  # not a header: skipped
        if not isinstance(found, dict):
            return
        if len(found) == 1 and isinstance(found.get("dropped"), str):
            self.drop(found["dropped"])
            return
        size = found.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= 1 << 40:
            return
        self.body_left, self.body, self.body_meta = size, None, None
        name, mime = clean_name(found.get("name")), clean_mime(found.get("mime"))
        # A bad or repeated name is someone else's frame (user code can write here): its content is skipped.
        if name is not None and mime is not None and name not in self.names and self.offer(name, size):
            self.body, self.body_meta = bytearray(), (name, mime)
        if not size:
            self.end_body()

    def end_body(self):
        if self.body is not None:
            name, mime = self.body_meta
            self.add(name, mime, bytes(self.body))
        self.body, self.body_meta = None, None

    def drain(self):
        # The child is gone and everything else killed: what they wrote is in the pipe. A frame
        # cut short (a child killed while writing) is discarded.
        for _ in range(256):
            if not self.open or not select.select([self.fd], [], [], 0)[0]:
                break
            self.read_once()
        self.close()
        self.body = None

    def close(self):
        if self.open:
            self.open = False
            os.close(self.fd)


def as_program_user(function, *args):
    """Runs function with the program's uid and gid as effective ids, then back to root. The
    supervisor holds no DAC capability: it can neither make a folder the program owns nor read into
    one of mode 0700 as root. Never while any process of the program's lives (it could signal or
    trace this one meanwhile): before the first fork, or after everything was killed."""
    if os.geteuid() != 0:
        return function(*args)  # started by hand as someone else
    os.setresgid(-1, PROGRAM_GID, -1)
    os.setresuid(-1, PROGRAM_UID, -1)
    try:
        return function(*args)
    finally:
        # The real and saved ids stayed 0: the effective ones (and the capabilities) come back.
        os.setresuid(-1, 0, -1)
        os.setresgid(-1, 0, -1)


def make_outputs_dir():
    try:
        os.mkdir(OUTPUTS_DIR, 0o700)
    except OSError:
        pass  # already there (a rerun by hand), or /tmp is not writable: nothing is collected


def collect_outputs(sink):
    """The regular files under OUTPUTS_DIR, in name order, into sink. Called with the program's
    uid (as_program_user) once all of its processes are gone: nothing is followed (O_NOFOLLOW on
    every segment, below a folder opened by fd), only regular files are read (fstat; O_NONBLOCK so a
    FIFO cannot block the open), at most MAX_OUTPUT_ENTRIES entries MAX_OUTPUT_DEPTH deep."""
    try:
        fd = os.open(OUTPUTS_DIR, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return  # gone, or replaced by a symlink or a file
    try:
        walk_outputs(sink, fd, "", 0, [MAX_OUTPUT_ENTRIES])
    finally:
        os.close(fd)


def walk_outputs(sink, dir_fd, prefix, depth, budget):
    try:
        with os.scandir(dir_fd) as entries:
            names = sorted(entry.name for entry in entries)
    except OSError:
        return
    for name in names:
        if budget[0] <= 0:
            return
        budget[0] -= 1
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
        except OSError:
            continue  # a symlink (ELOOP), a socket, or unreadable to the program itself
        try:
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                if depth < MAX_OUTPUT_DEPTH:
                    walk_outputs(sink, fd, prefix + name + "/", depth + 1, budget)
            elif stat.S_ISREG(info.st_mode):
                take_file(sink, fd, prefix + name, info.st_size)
        finally:
            os.close(fd)


def take_file(sink, fd, path, size):
    name = clean_name(path)
    if name is None:
        sink.drop(path, cap=False)
        return
    name = sink.unique(name)
    if not sink.offer(name, size):
        return
    chunks, got = [], 0
    while got < size:
        chunk = os.read(fd, min(1 << 20, size - got))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    ext = name.rpartition("/")[2].rpartition(".")[2].lower() if "." in name.rpartition("/")[2] else ""
    sink.add(name, OUTPUT_MIMES.get(ext, "application/octet-stream"), b"".join(chunks))


def write_fully(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_artifacts(nonce, sink):
    """The artifacts on stderr, before the report: a start marker with the total base64 length
    (the worker raises its output cap by that much, so artifacts never count as output), then each
    as a header line and its base64 line. Nothing at all when there is nothing to tell. Returns
    whether anything was written."""
    if not sink.kept and not sink.dropped:
        return False
    import binascii

    total = sum((len(data) + 2) // 3 * 4 for _, _, data in sink.kept)
    write_fully(2, ("\n\x1esbx-artifacts:%s:%d\n" % (nonce, total)).encode())
    for name, mime, data in sink.kept:
        header = child.json_dumps({"name": name, "mime": mime, "bytes": len(data)})
        write_fully(2, ("\x1esbx-artifact:%s:%s\n" % (nonce, header)).encode())
        write_fully(2, binascii.b2a_base64(data, newline=False) + b"\n")
    return True


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


def run(waiting, code, stdin_text, args, time_ms, memory_mb, policy, artifacts=NO_ARTIFACTS):
    """Hands one job to a waiting child and supervises it. Returns the report's fields and the
    ArtifactSink of the child's figures (empty unless `artifacts` allows some)."""
    stdin = stdin_text.encode("utf-8", "surrogatepass")
    header = child.json_dumps(
        {
            "time_ms": time_ms,
            "memory_mb": memory_mb,
            "policy": policy,
            "args": args,
            "code": len(code),
            "stdin": len(stdin),
            "artifacts": artifacts,
        }
    ).encode()
    handed = time.monotonic()
    write_all(waiting.job_w, header + b"\n" + code + stdin)

    events = StatusEvents(waiting.status_r)
    started = events.wait_for_start(handed + STARTUP_BUDGET_S) or handed
    sink = ArtifactSink(waiting.artifact_r, artifacts)
    reaped = wait_child(waiting.pid, started + time_ms / 1000.0, sink)
    timed_out = reaped is None
    if timed_out:
        try:
            os.kill(waiting.pid, 9)
        except ProcessLookupError:
            pass
        reaped = wait_child(waiting.pid, None)
    ended = time.monotonic()
    if artifacts["max_count"]:
        # Nothing of the program's may write to stderr (or the artifact pipe) from here on: the
        # artifacts go out on stderr, and the worker takes all of it after their marker for ours.
        try:
            os.kill(-1, 9)
        except OSError:
            pass
    events.drain()
    sink.drain()

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
        "base_rss_kb": events.base_rss_kb or 0,
        "memory_error": events.memory_error,
        # False when the program ended without its own exit path: killed, os._exit, or ended by gVisor.
        "ended_itself": events.exited,
        "violation": events.violation,
    }
    return result, sink


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
    # The program's own folder for files that come back (collect_outputs), before any of its processes exist.
    as_program_user(make_outputs_dir)
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
        spec = artifact_spec(frame.get("artifacts"))
        result, sink = run(
            waiting, code, frame.get("stdin", ""), args, frame["time_ms"], frame["memory_mb"], policy, spec
        )
        if spec["max_count"]:
            if policy == "standard":
                as_program_user(collect_outputs, sink)
            if write_artifacts(nonce, sink):
                result["artifacts_dropped"] = sink.dropped
                result["dropped_names"] = sink.dropped_names
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
        # No artifacts from tests (graders compare outputs): the child's pipe is read and discarded.
        result, _ = run(waiting, code, test.get("stdin", ""), args, test["time_ms"], test["memory_mb"], policy)
        waiting = None
        result["test"] = index
        os.write(1, ("\n\x1esbx-end:%s:%d\n" % (nonce, index)).encode())
        report(nonce, result)
        if stop_on_failure and (failed(result) or (index < last and not worker_says_next())):
            break
    done(nonce, 0)


if __name__ == "__main__":
    main()
