"""Runs one submission in a fresh process forked by the supervisor.

The supervisor imports this module once; each child it forks calls serve(), which blocks until its
job arrives on a pipe (a JSON header line, then the code and the stdin bytes). The code is parsed
once from the exact bytes received, checked, and the checked tree itself is compiled and run as
__main__ in a fresh module.

What the sandbox forbids is enforced below Python: the seccomp filter (syscall_floor.py), installed
right before the program's first line, kills the process on any attempt to start a process or open
a socket. The policy layer (sbx_policy's AST check, sbx_audit's hook) is defence in depth that gives
clear, early refusals; on a refusal the hook records it on the status pipe and ends the process with
os._exit, which user code cannot catch.
"""

import _ast
import _thread
import io
import os
import sys
import time

import syscall_floor
from sbx_audit import make_audit_hook
from sbx_figures import FigureSink
from sbx_limits import set_limits
from sbx_policy import Violation, check_tree
from sbx_tracebacks import print_exception
from sbx_wire import EXIT, PROGRAM, json_dumps, json_loads

FILENAME = PROGRAM["filename"]
VIOLATION_EXIT = EXIT["violation"]
ENOMEM = 12  # errno's value on Linux; an mmap refused under the address-space limit raises it


def report_violation(status_fd, violation):
    payload = json_dumps({"message": violation.message, "line": violation.line})
    os.write(status_fd, b"violation " + payload.encode() + b"\n")
    os._exit(VIOLATION_EXIT)


def read_fd(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def read_job(job_fd):
    raw = read_fd(job_fd)
    header, _, body = raw.partition(b"\n")
    job = json_loads(header)
    code_len, stdin_len = job["code"], job["stdin"]
    if len(body) != code_len + stdin_len:
        raise ValueError("job truncated")
    return job, body[:code_len], body[code_len:]


def stdin_from(data):
    # An in-memory file of the child's own as fd 0: the whole input is there at once, and nothing
    # else holds or can write to it.
    fd = os.memfd_create("stdin", 0)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    if fd != 0:
        os.dup2(fd, 0)
        os.close(fd)
    reopen_stdin()


def stdin_pipe(fd):
    """An interactive job's stdin: the pipe the supervisor writes the input to as it arrives (and
    closes at its end), as fd 0. Reads block until input comes; input() gets each line as it does."""
    if fd != 0:
        os.dup2(fd, 0)
        os.close(fd)
    reopen_stdin()


def reopen_stdin():
    # The interpreter's own stdin object belongs to the supervisor: UTF-8 mode's settings, over the new fd 0.
    sys.stdin = sys.__stdin__ = open(0, "r", encoding="utf-8", errors="surrogateescape", closefd=False)


# How long output waits after the program's first write since the last flush: what it printed
# reaches a viewer within this, in one write however many lines it holds.
FLUSH_AFTER_S = 0.01
FLUSHER_STACK_BYTES = 256 * 1024


def _write(self, text, _write=None, _fast=None, _pending=None, _wake=None):
    # The first write since the last flush: wakes the flusher, and puts TextIOWrapper.write itself
    # in the stream's own __dict__, where attribute lookup finds it first, so the writes after it cost
    # what they always did until the flusher takes it out again. A lock released twice by racing
    # threads is a RuntimeError, and harmless: one wake is enough.
    self.__dict__["write"] = _fast
    if not _pending[0]:
        _pending[0] = True
        try:
            _wake.release()
        except RuntimeError:
            pass
    return _write(self, text)


def _flush_loop(flush, sleep, delay, pending, wake, fields):
    # Waits (using no CPU) until the program writes, lets its output gather for `delay`, flushes;
    # the next write after that goes through _write again.
    try:
        while True:
            wake.acquire()
            sleep(delay)
            pending[0] = False
            fields.pop("write", None)
            flush()
    except BaseException:
        pass  # the program closed or broke its stdout: nothing more to flush, and nothing to say


def _bare(function, defaults=None, **builtins):
    """`function` with globals of its own: no frame or attribute of it leads to this module (the
    standard profile can reach both, through sys._current_frames() and type(sys.stdout))."""
    return type(function)(function.__code__, {"__builtins__": builtins}, function.__name__, defaults)


def flushed_stdout(delay=FLUSH_AFTER_S):
    """stdout is a pipe, so Python holds up to 8 KiB of it until a flush. Line buffering would pass
    each line on at once, but a write per line costs ~100x what the line does under gVisor (100k
    lines: 9-16 s instead of 0.08 s, measured), and a thread flushing on a timer is charged ~6% of
    the wall clock in CPU while the program waits (a CPU limit an interactive program would spend
    waiting). So sys.stdout becomes a TextIOWrapper whose write wakes a thread, which flushes
    `delay` later: a viewer sees `print('x'); time.sleep(1)` at once, the program writes in blocks,
    and a program that prints nothing wakes nothing. Returns the function that starts the thread,
    or None when stdout is not the usual one. Writes to sys.stdout.buffer wake nothing: they go at
    8 KiB, a flush or the end."""
    old = sys.stdout
    if type(old) is not io.TextIOWrapper:
        return None
    pending = [False]
    wake = _thread.allocate_lock()
    wake.acquire()
    wrapper = type("TextIOWrapper", (io.TextIOWrapper,), {"__slots__": (), "__module__": "sandbox"})
    stream = wrapper(old.detach(), encoding=old.encoding, errors=old.errors, newline="\n")
    fast = io.TextIOWrapper.write.__get__(stream)
    wrapper.write = _bare(_write, (io.TextIOWrapper.write, fast, pending, wake), RuntimeError=RuntimeError)
    stream.mode = "w"
    sys.stdout = sys.__stdout__ = stream
    loop = _bare(_flush_loop, BaseException=BaseException)

    def start():
        previous = _thread.stack_size(FLUSHER_STACK_BYTES)
        try:
            args = (stream.flush, time.sleep, delay, pending, wake, stream.__dict__)
            _thread.start_new_thread(loop, args)
        finally:
            _thread.stack_size(previous)

    return start


def start_flusher():
    """flushed_stdout() and its thread, in a child still waiting for its job: off the program's
    clock, and before its limits, so neither the thread's start nor its stack is charged to it. The
    seccomp filter, installed later with TSYNC, covers the thread too; until the program writes, it
    waits on its lock. Without a thread (none to be had), output still comes at 8 KiB or the end."""
    try:
        start = flushed_stdout()
        if start is not None:
            start()
    except Exception:
        pass


class ProgramReady(BaseException):
    """Raised in a forked child once its program is ready to run, with (guard, code, namespace): it
    unwinds every harness frame up to the supervisor's top level, which runs the program there as
    the bottom Python frame (supervisor.py). A BaseException so no `except Exception` stops it."""


def serve(job_fd, status_fd, artifact_fd=None, input_fd=None):
    """Entry point of a forked child: waits for its job and prepares it. Returns ProgramReady (for
    the caller to raise), or ends the process. `input_fd`: the pipe an interactive job reads."""
    try:
        # While no job is here yet (off the program's clock): most of install()'s cost, paid early.
        syscall_floor.prepare()
        start_flusher()
        job, source, stdin = read_job(job_fd)
        reseed()
        if job.get("stdin_pipe"):
            stdin_pipe(input_fd)
        else:
            if input_fd is not None:
                os.close(input_fd)
            stdin_from(stdin)
        figures = FigureSink.for_job(artifact_fd, job.get("artifacts"))
    except Exception:
        os._exit(EXIT["frame_error"])  # the supervisor sent a bad job, or died: nothing of the user's ran
    args = job.get("args", [])  # the supervisor checked: a list of str
    limits = (int(job["time_ms"]), int(job["memory_mb"]))
    policy = job.get("policy", "strict")
    return prepare_program(source, *limits, policy, status_fd, args, figures, job.get("import_dir"))


def reseed(modules=sys.modules):
    """Fresh randomness for this program, drawn now that its job is here. A sandbox restored from a
    checkpoint holds the memory of the one checkpointed, this child included (it was forked before):
    without this, every copy's `random`, numpy's global generator and tempfile's names would repeat
    the same sequence. What stays shared, and why that is acceptable, is in docs/security.md."""
    random = modules.get("random")
    if random is not None:
        random.seed()  # from os.urandom
    numpy_random = modules.get("numpy.random")
    if numpy_random is not None:
        numpy_random.seed()  # the legacy global RandomState, from the OS's entropy
    tempfile = modules.get("tempfile")
    if tempfile is not None:
        tempfile._name_sequence = None  # its next name draws a new generator, seeded by `random`'s reseed


def compile_program(source, profile, status_fd):
    """The code object to run, or the process ends: a refusal (violation) or a syntax error (exit 1)."""
    try:
        if profile == "off":
            return compile(source, FILENAME, "exec", dont_inherit=True)
        # Parsed once from the exact bytes received (coding cookie included); the checked tree is what runs.
        tree = compile(source, FILENAME, "exec", _ast.PyCF_ONLY_AST)
        if profile == "strict":
            check_tree(tree)
        return compile(tree, FILENAME, "exec", dont_inherit=True)
    except Violation as violation:
        report_violation(status_fd, violation)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        # The program's own doing: source too deeply nested for the parser (RecursionError) or too big
        # for memory is a runtime error of the program, as CPython itself would report it.
        import traceback  # imported on failure only: with linecache, 40+ ms of sandbox start-up

        traceback.print_exception(exc, limit=0)
        fast_exit(1, status_fd)


def prepare_program(source, time_ms, memory_mb, profile, status_fd, args=(), figures=None, import_dir=None):
    base_rss, base_cpu = set_limits(time_ms, memory_mb)
    os.write(status_fd, b"base %d\ncpu_base %d\n" % (base_rss // 1024, int(base_cpu * 1e6)))
    sys.argv = [FILENAME, *args]
    # With files, their folder comes first, as a script's own folder does: `import helper` finds helper.py.
    sys.path = ([import_dir] if import_dir else []) + [p for p in sys.path if p]
    code = compile_program(source, profile, status_fd)

    # A fresh module for the user: nothing of the supervisor or this bootstrap is reachable through
    # sys.modules['__main__'].
    module = type(sys)("__main__")
    module.__file__ = FILENAME
    module.__builtins__ = __builtins__
    sys.modules["__main__"] = module
    if figures is not None:
        figures.install_show()
    if profile != "off":
        sys.addaudithook(make_audit_hook(profile, code, status_fd))
    return ProgramReady(ProgramGuard(status_fd, figures, source), code, module.__dict__)


class ProgramGuard:
    """The context the program runs in (`with guard: exec(...)` at the supervisor's top level). It
    lives only on that frame's value stack, which no Python code can read: the program's frames
    lead to no harness module, no descriptor of ours and no job data."""

    def __init__(self, status_fd, figures, source):
        self.status_fd = status_fd
        self.figures = figures
        self.source = source

    def __enter__(self):
        try:
            # Last before the program: from here no process can be started and no socket opened,
            # whatever the policy layer missed. Without the filter nothing of the program runs.
            syscall_floor.install()
        except BaseException:
            os._exit(EXIT["floor_failed"])
        # The supervisor's clock for the time limit and the reported time starts here,
        # so process start-up is not billed to the submission.
        os.write(self.status_fd, b"start %.9f\n" % time.monotonic())

    def __exit__(self, kind, exc, tb):
        """The program's end, whichever way it came: never returns."""
        if exc is None:
            status = 0
        elif isinstance(exc, SystemExit):
            status = exit_status(exc)
        else:
            if refused_allocation(exc):
                try:
                    os.write(self.status_fd, b"memory_error\n")
                except OSError:
                    pass
            print_exception(exc, self.source)
            status = 1
        del exc, tb
        fast_exit(status, self.status_fd, self.figures)


def refused_allocation(exc):
    """The program's own allocation was refused by its memory limit: a MemoryError, or ENOMEM from
    any other allocation route (mmap, a library's own allocator) left uncaught."""
    return isinstance(exc, MemoryError) or (isinstance(exc, OSError) and exc.errno == ENOMEM)


def exit_status(exc):
    """What the interpreter would exit with for this SystemExit (and what it would print)."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        print(code, file=sys.stderr)
    except Exception:
        pass
    return 1


def fast_exit(status, status_fd, figures=None):
    """The program's end as the interpreter would do it (non-daemon threads joined, atexit
    handlers run, output flushed), then os._exit: tearing down a forked interpreter's modules
    costs 25-30 ms under gVisor and changes nothing the caller can see. "exit" on the status
    pipe tells the supervisor the program ended by its own path."""
    threading = sys.modules.get("threading")
    try:
        if threading is not None:
            threading._shutdown()
        if figures is not None:
            # The figures the program left open, once its threads are done; before the atexit
            # handlers, one of which is pyplot's own Gcf.destroy_all.
            try:
                figures.emit_open(close=False, at_exit=True)
            except BaseException:
                pass  # a pyplot the program broke: its figures are lost, its exit is not
        import atexit

        atexit._run_exitfuncs()
    except SystemExit as exc:
        status = exit_status(exc)
    except BaseException as exc:
        print_exception(exc)
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:
            pass
    try:
        os.write(status_fd, b"exit\n")
    except OSError:
        pass
    # A call the filter stopped while the program kept SIGSYS blocked: its verdict, not a quiet exit.
    syscall_floor.deliver_pending()
    os._exit(status)
