"""Sandbox supervisor: the container's first process.

Reads one job (a JSON line) from stdin, runs the user's code once, or once per test case, each time
in a fresh child forked from this process, enforces each time limit, and tells the worker everything
in frames on its own stdout (sbx_wire, wire.json): the program's stdout and stderr as it writes them,
a report after each child is gone, the artifacts, and the end. The program never holds this
process's descriptors: its own stdin, stdout and stderr were made for it (sbx_processes), and this
process relays them (sbx_relay).

Children are forked from this process, which has already imported everything a run needs (the
harness modules, _ast, _json and the environment's preload): a fork is far cheaper under gVisor than a
new interpreter. The first child is forked before the job arrives, so a warm sandbox answers without
paying for either. A child never runs more than one program, and this process never runs user code.
With tests, each test's input arrives only when the worker lets that test start, after its child is
forked: no child ever holds another test's data.
"""

import binascii
import os
import sys
import time

# The harness modules sit beside this file. -I keeps that folder off sys.path for the program; it is
# on it only while they load, and their names are taken out of sys.modules after (the program cannot
# import them by name; what it could import from the image is their source, public anyway).
HARNESS_DIR = os.path.dirname(os.path.abspath(__file__))
HARNESS_MODULES = (
    "sbx_wire sbx_limits sbx_policy sbx_audit sbx_tracebacks sbx_figures syscall_floor child sbx_artifacts "
    "sbx_processes sbx_relay"
).split()
sys.path.insert(0, HARNESS_DIR)
try:
    import child
    import sbx_artifacts as artifacts
    import sbx_processes as processes
    import sbx_wire as wire
    import syscall_floor
    from sbx_limits import cpu_limit_seconds
    from sbx_relay import ChildWatch, InputFeed, StatusEvents, wait_interactive
finally:
    sys.path.remove(HARNESS_DIR)
    for _name in HARNESS_MODULES:
        sys.modules.pop(_name, None)

STARTUP_BUDGET_S = wire.PROGRAM["startup_budget_s"]


def load_source_module(name, path):
    # Executed straight from its source file: importlib.util would cost another 10 ms of imports under gVisor.
    module = type(sys)(name)
    module.__file__ = path
    with open(path, "rb") as source:
        exec(compile(source.read(), path, "exec"), module.__dict__)
    return module


def preload_environment(path="/opt/sbx/preload.py"):
    # The environment's libraries (python-data: numpy, pandas, matplotlib), imported here once, before
    # the first fork, so every child has them for free. Images of the plain environment have no file.
    return load_source_module("sbx_preload", path) if os.path.exists(path) else None


preload = preload_environment()


def check_args(spec):
    args = spec.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ValueError("args must be a list of strings")
    return args


def check_files(spec):
    """The job's files as [(name, bytes)]: plain names of one folder level, each once (the API
    checked them; this is the harness refusing a frame it cannot honour)."""
    files = spec.get("files", [])
    if not isinstance(files, list):
        raise ValueError("files must be a list")
    out, seen = [], set()
    for f in files:
        name = f.get("name") if isinstance(f, dict) else None
        if not isinstance(name, str) or not 0 < len(name) <= 100 or name in (".", "..", "outputs") or name in seen:
            raise ValueError("bad file name %r" % (name,))
        if "/" in name or "\0" in name or not isinstance(f.get("data"), str):
            raise ValueError("bad file %r" % (name,))
        seen.add(name)
        out.append((name, binascii.a2b_base64(f["data"])))
    return out


def place_files(files):
    """Writes the job's files beside the program (the working directory), as its user; the folder
    to import from, or None without files."""
    if not files:
        return None
    folder = os.getcwd()
    # As the program's user while a child waits: it runs harness code only (blocked on its job
    # pipe), none of the program's, so nothing can use the shared uid meanwhile.
    processes.as_program_user(processes.write_program_files, files, folder)
    return folder


# This process's stdin, read raw: the job line, then each test's input or an interactive run's.
stdin_lines = wire.LineReader(0)


def read_job():
    line = stdin_lines.readline()
    if not line.endswith(b"\n"):
        raise ValueError("job frame missing or too large")
    job = wire.json_loads(line)
    if job.get("v") != wire.VERSION:
        raise ValueError("unsupported protocol version %r" % job.get("v"))
    check_args(job)
    job["files"] = check_files(job)
    return job


def interactive_bounds(job):
    """(wall_ms, idle_ms) of an interactive single run; None for any other job."""
    if job.get("interactive") is not True:
        return None
    if job.get("tests") is not None:
        raise ValueError("an interactive job is a single run")
    bounds = (job.get("wall_ms"), job.get("idle_ms"))
    if not all(type(b) is int and b > 0 for b in bounds):
        raise ValueError("an interactive job needs wall_ms and idle_ms")
    return bounds


def read_test_input():
    """The next test's {stdin, args}, sent by the worker when that test may start; None to stop."""
    try:
        line = stdin_lines.readline()
    except ValueError:
        return None
    if not line.endswith(b"\n") or line.rstrip(b"\n") == wire.STOP:
        return None
    found = wire.json_loads(line)
    return {"stdin": str(found.get("stdin", "")), "args": check_args(found)}


def write_all(fd, data):
    try:
        wire.write_fully(fd, data)
    except OSError:
        pass  # the child died before reading everything (an OOM kill): its wait status says so
    finally:
        os.close(fd)


def hand_job(waiting, code, stdin, args, time_ms, memory_mb, policy, spec, pipe=False, import_dir=None):
    """The job on the child's job pipe; with `pipe`, its stdin is the input pipe (stdin is b"" here).
    `import_dir`: where the job's files are, first on the program's sys.path (as a script's folder is)."""
    header = wire.json_dumps(
        {
            "time_ms": time_ms,
            "memory_mb": memory_mb,
            "policy": policy,
            "args": args,
            "code": len(code),
            "stdin": len(stdin),
            "stdin_pipe": pipe,
            "artifacts": spec,
            "import_dir": import_dir,
        }
    ).encode()
    write_all(waiting.job_w, header + b"\n" + code + stdin)


def run(
    waiting, code, stdin_text, args, time_ms, memory_mb, policy, spec=artifacts.NO_ARTIFACTS, bounds=None, files=()
):
    """Hands one job to a waiting child and watches it to its end. Returns the report's fields and
    the ArtifactSink of the child's figures (empty unless `spec` allows some). Every other process
    is gone when it returns. `bounds`: an interactive run's (wall_ms, idle_ms). `files`: written
    beside the program first (before the clock starts)."""
    import_dir = place_files(files)
    handed = time.monotonic()
    stdin = stdin_text.encode("utf-8", "surrogatepass")
    feed = None
    if bounds is None:
        hand_job(waiting, code, stdin, args, time_ms, memory_mb, policy, spec, import_dir=import_dir)
        waiting.close_input()
    else:
        hand_job(waiting, code, b"", args, time_ms, memory_mb, policy, spec, pipe=True, import_dir=import_dir)
        feed = InputFeed(stdin_lines, waiting.in_w, stdin)
    events = StatusEvents(waiting.status_r)
    sink = artifacts.ArtifactSink(spec)
    watch = ChildWatch(waiting, events, sink, feed=feed)
    started = watch.wait_for_start(handed + STARTUP_BUDGET_S) or handed
    bound = None
    if bounds is None:
        reaped = watch.wait_exit(waiting.pid, started + time_ms / 1000.0)
    else:
        reaped, bound = wait_interactive(watch, waiting.pid, started, time_ms, bounds, events.cpu_base_us)
    timed_out = reaped is None
    if timed_out:
        try:
            os.kill(waiting.pid, 9)
        except ProcessLookupError:
            pass
        reaped = watch.wait_exit(waiting.pid, None)
    ended = time.monotonic()
    processes.kill_all_but_me()
    watch.drain()
    sink.finish()
    status, usage = reaped
    if events.start is None:
        # Before its start line a child exits only of its own accord for a syntax error (1) or a
        # refusal (99); these two are the harness's failures, never a verdict on the program.
        rc = os.waitstatus_to_exitcode(status)
        if rc == wire.EXIT["floor_failed"]:
            harness_failed("the child could not install its seccomp filter; nothing of the program ran", rc)
        if rc == wire.EXIT["frame_error"]:
            harness_failed("the child could not take its job; nothing of the program ran", rc)
    report = judge(status, usage, events, timed_out, ended - started, time_ms)
    if bounds is not None:
        # Which bound ended an interactive run: its CPU time is the time limit, as the backstop's is.
        report["bound"] = bound if timed_out else ("cpu" if report["cpu_limit"] else None)
        report["cpu_limit"] = report["cpu_limit"] or bound == "cpu"
    return report, sink


def judge(status, usage, events, timed_out, elapsed, time_ms):
    """The report's fields: what was seen, never guessed (the worker judges them, docs/security.md)."""
    rc = os.waitstatus_to_exitcode(status)
    # The program's own CPU: the child's, less what it was charged while it waited for its job.
    cpu = max(0.0, usage.ru_utime + usage.ru_stime - (events.cpu_base_us or 0) / 1e6)
    # The kernel's CPU backstop fired before the wall clock: that is the time limit too, not a crash.
    # (User code may lower its own RLIMIT_CPU; dying of that stays a runtime error.)
    cpu_limit = not timed_out and rc in (-9, -24) and cpu >= cpu_limit_seconds(time_ms) - 0.01
    violation = events.violation
    if syscall_floor.killed_by_filter(status) and violation is None:
        # Nothing but the filter can send it: the filter refuses a SIGSYS the program sends itself.
        violation = {"message": syscall_floor.KILLED_MESSAGE, "line": None}
    return {
        "v": wire.VERSION,
        "timed_out": timed_out or cpu_limit,
        "cpu_limit": cpu_limit,
        "exit_code": rc if rc >= 0 else 128 - rc,
        "signal": -rc if rc < 0 else None,
        "time": round(elapsed, 6),
        "cpu_time": round(cpu, 6),
        "max_rss_kb": usage.ru_maxrss,
        "base_rss_kb": events.base_rss_kb or 0,
        "memory_error": events.memory_error,
        # False when the program ended without its own exit path: killed, os._exit, or ended by gVisor.
        "ended_itself": events.exited,
        "violation": violation,
    }


def harness_failed(why, exit_code):
    # Not the program's doing and no verdict on it: the worker sees an exit without the done frame.
    sys.stderr.write("sbx harness: %s\n" % why)
    sys.stderr.flush()
    os._exit(exit_code)


def done(exit_code):
    """The end of everything. Then waits for the worker to close stdin (or kill the sandbox): gVisor's
    teardown costs about 0.15 s of CPU, and the worker chooses when to spend it, between jobs."""
    processes.kill_all_but_me()
    wire.send_json(1, wire.DONE, {"exit_code": exit_code})
    try:
        while os.read(0, 65536):
            pass
    except OSError:
        pass
    os._exit(exit_code)


def run_single(waiting, job, code, policy, bounds=None):
    spec = artifacts.artifact_spec(job.get("artifacts"))
    limits = (job["time_ms"], job["memory_mb"])
    stdin, args, files = job.get("stdin", ""), job.get("args", []), job.get("files", [])
    result, sink = run(waiting, code, stdin, args, *limits, policy, spec, bounds, files)
    if spec["max_count"]:
        if policy == "standard":
            processes.as_program_user(artifacts.collect_outputs, sink)
        result.update(artifacts.send_artifacts(1, sink))
    wire.send_json(1, wire.REPORT, result)
    done(result["exit_code"])


def run_tests(waiting, tests, code, policy, files=()):
    """One fresh child per test, in order. The worker sends each test's input when it may start (or
    stop); expected outputs never enter the sandbox: the worker judges answers."""
    for index, limits in enumerate(tests):
        # Forked before its input arrives (overlapping the worker's round trip), after the last
        # test's processes and files are gone.
        waiting = waiting or processes.WaitingChild(child.serve)
        test = read_test_input()
        if test is None:
            break
        bounds = (limits["time_ms"], limits["memory_mb"])
        result, _ = run(waiting, code, test["stdin"], test["args"], *bounds, policy, files=files)
        del test
        waiting = None
        result["test"] = index
        wire.send_json(1, wire.REPORT, result)
        processes.forget_program_files()
        processes.as_program_user(artifacts.make_outputs_dir)
    done(0)


def main():
    # The program's own folder for files that come back (collect_outputs), before any of its processes exist.
    processes.as_program_user(artifacts.make_outputs_dir)
    waiting = processes.WaitingChild(child.serve)
    # First bytes on stdout, before any user code exists: the worker counts the sandbox as started from here.
    os.write(1, wire.READY)
    try:
        job = read_job()
        code = job.pop("code").encode("utf-8", "surrogatepass")
        tests = job.get("tests")
        if tests is not None and not all(isinstance(t, dict) and "time_ms" in t and "memory_mb" in t for t in tests):
            raise ValueError("tests must be a list of {time_ms, memory_mb}")
        bounds = interactive_bounds(job)
    except Exception as exc:  # the worker wrote a bad frame: that is an internal error
        harness_failed("bad job frame: %s" % exc, wire.EXIT["frame_error"])
    policy = job.get("policy", "strict")
    if tests is None:
        run_single(waiting, job, code, policy, bounds)
    run_tests(waiting, tests, code, policy, job.get("files", []))


if __name__ == "__main__":
    try:
        main()  # in this process, never returns: it ends with os._exit
    except child.ProgramReady as ready:
        # Only in a forked child, its program prepared (child.serve). The program runs here, as the
        # bottom Python frame but this one, whose globals are emptied first: no frame it can walk to
        # holds a harness module, our os, a descriptor of ours or a job's data. The guard (on the
        # value stack only) installs the seccomp filter on entry and ends the process on exit.
        _guard, _code, _namespace = ready.args
    with _guard:
        exec(_code, _namespace, globals().clear())
