"""Runs one submission in a fresh process forked by the supervisor.

The supervisor imports this module once; each child it forks calls serve(),
which blocks until its job arrives on a pipe (a JSON header line, then the code
and the stdin bytes). The code is parsed once from the exact bytes received,
checked, and the checked tree itself is compiled and run as __main__ in a fresh
module.

The policy layer (AST check + audit hook) is defence in depth only: it exists to
give clear, early refusals. The container floor must hold when it is bypassed.
On a violation the hook records it on the status pipe and ends the process with
os._exit: nothing user code can catch.
"""

import _ast
import _json
import os
import resource
import sys
import time

FILENAME = "main.py"


class _JsonContext:
    """What the C scanner reads from json.JSONDecoder. The json package itself imports re, which
    costs 40-60 ms of every sandbox's start-up under gVisor; the C parts it wraps cost nothing."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int

    @staticmethod
    def parse_constant(name):
        raise ValueError("not JSON: %s" % name)


def _unserializable(value):
    raise TypeError("not JSON serializable: %r" % type(value))


_scan_json = _json.make_scanner(_JsonContext())
_encode_json = _json.make_encoder(
    None, _unserializable, _json.encode_basestring_ascii, None, ":", ",", False, False, False
)


def json_loads(text):
    """Strict JSON, one value, surrounding whitespace allowed."""
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8")
    text = text.strip(" \t\r\n")
    try:
        value, end = _scan_json(text, 0)
    except StopIteration:
        raise ValueError("not JSON") from None
    except SystemError:
        # The C scanner builds its error from json.decoder, found only if already imported (it never
        # is here): malformed input surfaces as a bare SystemError instead.
        raise ValueError("malformed JSON") from None
    if end != len(text):
        raise ValueError("trailing data after JSON")
    return value


def json_dumps(value):
    """Compact, ASCII-only JSON."""
    return "".join(_encode_json(value, 0))
VIOLATION_EXIT = 99

# Modules the strict profile refuses to import, with their private twins. The rest of the
# standard library stays usable; what it could do on a user's behalf is refused by action below.
STRICT_MODULES = frozenset(
    """
    os posix nt subprocess _posixsubprocess socket _socket socketserver ssl _ssl shutil ctypes _ctypes
    multiprocessing _multiprocessing inspect importlib imp _imp builtins gc marshal code codeop runpy
    pdb bdb pickle _pickle shelve dbm pty tty resource mmap fcntl zipimport _thread
    """.split()
)

STRICT_NAMES = frozenset(
    "eval exec compile __import__ open globals locals vars breakpoint __builtins__ __loader__ __spec__".split()
)

STRICT_ATTRS = frozenset(
    """
    __subclasses__ __globals__ __code__ __closure__ __builtins__ __bases__ __base__ __mro__ mro __dict__
    __getattribute__ __import__ __loader__ __spec__ __reduce__ __reduce_ex__ __traceback__ __self__ __func__
    __objclass__ __wrapped__ __defaults__ __kwdefaults__ tb_frame tb_next f_back f_globals f_locals f_builtins
    f_code gi_frame gi_code cr_frame cr_code ag_frame ag_code co_code modules _getframe _current_frames settrace
    setprofile addaudithook
    """.split()
) | frozenset(
    # A refused module is refused as an attribute too: libraries hold handles to them (numpy.lib.npyio.os
    # and .pickle, pandas.io.common.os, matplotlib.subprocess, matplotlib.cbook.subprocess, pathlib.os,
    # random._os), and in python-data they are all already in sys.modules, so no import event fires.
    # `from matplotlib import subprocess` is the same access (check_tree checks imported names too).
    # Only names no ordinary program uses as an attribute ("code" and "resource" are not here).
    """
    os _os posix subprocess _subprocess _posixsubprocess socket _socket ssl _ssl shutil _shutil ctypes _ctypes
    multiprocessing _multiprocessing importlib _imp builtins _builtins marshal pickle _pickle cPickle mmap pty
    fcntl
    """.split()
)
ATTR_FUNCS = frozenset({"getattr", "setattr", "delattr", "hasattr"})

PROCESS_EVENTS = frozenset(
    "os.system os.exec os.posix_spawn os.spawn os.fork os.forkpty os.vfork subprocess.Popen pty.spawn".split()
)
WRITE_PATH_EVENTS = frozenset(
    """
    os.remove os.rename os.rmdir os.mkdir os.chmod os.chown os.link os.symlink os.truncate os.utime
    os.chflags os.lchflags os.mkfifo os.mknod os.removexattr os.setxattr shutil.copyfile shutil.copymode
    shutil.copystat shutil.copytree shutil.move shutil.rmtree shutil.chown shutil.make_archive
    """.split()
)
# In any profile: these hand out every live object, the audit hook included.
ALWAYS_REFUSED = frozenset({"gc.get_objects", "gc.get_referrers", "gc.get_referents"})
STRICT_USER_REFUSED = frozenset(
    {"sys._getframe", "sys._current_frames", "marshal.loads", "code.__new__", "function.__new__",
     "pickle.find_class", "sys.setprofile", "sys.settrace", "compile", "exec"}
)
# In strict, whoever causes them: an unpickled global is code chosen by whoever wrote the bytes
# (np.load(allow_pickle=True), pd.read_pickle and pandas.compat.pickle_compat call pickle from library
# frames), and a strict program has no process of its own to signal.
STRICT_REFUSED = frozenset({"pickle.find_class", "os.kill", "os.killpg"})

# What strict lets library code read (fonts, mathtext's other fonts, matplotlibrc and style sheets,
# time zones, modules imported lazily): read-only, public files that came with the image. The rule
# (make_audit_hook): a read-only open whose caller is not the program's own code, of a path that,
# with every symlink, "." and ".." resolved the way the kernel walks it, lies inside one of these
# directories (resolved too). A path merely spelled with a listed prefix
# ("/usr/lib/python3/../../../etc/passwd") resolves elsewhere and is refused; nothing else is readable,
# /proc, /etc and /tmp included. A strict program can create no file or link, so what was resolved
# is what the kernel opens. Never for writing: strict refuses every write.
LIBRARY_DATA_DIRS = (
    os.path.dirname(os.__file__),  # the standard library (/usr/lib/python3.11)
    "/usr/lib/python3/dist-packages",  # Debian's Python packages: numpy, pandas, matplotlib, PIL...
    "/usr/share/matplotlib/mpl-data",  # Debian's matplotlib data: fonts, matplotlibrc, stylelib
    "/usr/share/fonts",
    "/usr/share/zoneinfo",
)
LIBRARY_DATA_FILES = ("/dev/null", "/dev/urandom")
FRAME_ATTRS = frozenset({"__code__", "gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code", "tb_frame"})
AF_UNIX = 1
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class Violation(Exception):
    def __init__(self, message, line=None):
        super().__init__(message)
        self.message = message
        self.line = line


def read_fd(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def cpu_limit_seconds(time_ms):
    """RLIMIT_CPU for a run: a backstop behind the supervisor's wall clock, for spinning threads
    that outlive a kill. It counts every thread, and gVisor's ptrace platform counts a runnable
    thread's waiting time too, so a few spinning threads can reach it before the wall clock."""
    return time_ms // 1000 + 2


# Room above the memory limit for what the interpreter itself grows by while running the program
# (its heap, the modules the program imports): small enough that 150 MB under 128 MB is refused.
ADDRESS_SPACE_SLACK_MB = 4

# Threads' stacks count against the address space: glibc's default (RLIMIT_STACK, 8 MB) would make
# each thread the program starts cost 8 MB of its limit. 1 MB still holds the default recursion limit, through C calls too.
THREAD_STACK_BYTES = 1024 * 1024


def memory_in_use():
    """(VmSize, VmRSS) of this process in bytes: the supervisor's and every library it preloaded,
    which the program did not allocate and is not charged for."""
    found = {}
    with open("/proc/self/status", "rb") as status:
        for line in status:
            if line.startswith((b"VmSize:", b"VmRSS:")):
                key, value = line.split()[:2]
                found[key] = int(value) * 1024
    return found.get(b"VmSize:", 0), found.get(b"VmRSS:", 0)


def set_limits(time_ms, memory_mb):
    """Returns the resident memory the process had before the program: its peak RSS counts what
    was preloaded (python-data: about 130 MB), and the program is charged only for the rest."""
    # Soft = hard so user code cannot raise them.
    cpu = cpu_limit_seconds(time_ms)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    # The memory limit is enforced here, on what the program maps on top of what was already
    # mapped: an allocation past it fails with MemoryError (a memory_limit verdict from the
    # program's own report) instead of reaching the cgroup, whose kill the worker learns of only
    # through an event that can come late. The cgroup, set above this (container-spec.ts), stays the
    # floor for memory no mapping accounts for (pipes, file pages). MALLOC_ARENA_MAX keeps threads
    # from reserving arenas they would then be charged for.
    import _thread

    _thread.stack_size(THREAD_STACK_BYTES)
    mapped, resident = memory_in_use()
    address_space = mapped + (memory_mb + ADDRESS_SPACE_SLACK_MB) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    return resident


def walk(tree):
    """ast.walk without the ast module, whose imports (enum, contextlib, collections) cost 40-55 ms
    of every sandbox's start-up under gVisor: breadth first, each node before its children."""
    todo = [tree]
    at = 0
    while at < len(todo):
        node = todo[at]
        at += 1
        for name in node._fields:
            field = getattr(node, name, None)
            if isinstance(field, _ast.AST):
                todo.append(field)
            elif isinstance(field, list):
                todo.extend(item for item in field if isinstance(item, _ast.AST))
        yield node


def check_tree(tree):
    """The strict profile's static check. Raises Violation naming what and where."""

    def refuse(node, message):
        raise Violation(message, getattr(node, "lineno", None))

    def refused_text(text):
        for name in STRICT_ATTRS:
            if name.startswith("__") and name in text:
                return name
        return None

    literal_calls = set()
    for node in walk(tree):
        if isinstance(node, _ast.Import):
            for alias in node.names:
                root = alias.name.split(".")[0]
                if root in STRICT_MODULES:
                    refuse(node, "import of '%s' is not allowed" % alias.name)
        elif isinstance(node, _ast.ImportFrom):
            root = (node.module or "").split(".")[0]
            if node.level == 0 and root in STRICT_MODULES:
                refuse(node, "import from '%s' is not allowed" % node.module)
            for alias in node.names:
                # `from matplotlib import subprocess` reads an attribute of an imported module.
                if alias.name in STRICT_ATTRS:
                    refuse(node, "import of '%s' from '%s' is not allowed" % (alias.name, node.module))
        elif isinstance(node, _ast.Call) and isinstance(node.func, _ast.Name) and node.func.id in ATTR_FUNCS:
            name = node.args[1] if len(node.args) > 1 else None
            if not (isinstance(name, _ast.Constant) and isinstance(name.value, str)):
                refuse(node, "%s() with a computed attribute name is not allowed" % node.func.id)
            if name.value in STRICT_ATTRS:
                refuse(node, "access to attribute '%s' is not allowed" % name.value)
            # walk yields a call before its children: mark this getattr as checked.
            literal_calls.add(id(node.func))
        elif isinstance(node, _ast.Name):
            # Identifiers are NFKC-normalised by the parser: fullwidth spellings land here too.
            if node.id in STRICT_NAMES:
                refuse(node, "use of '%s' is not allowed" % node.id)
            if node.id in ATTR_FUNCS and id(node) not in literal_calls:
                refuse(node, "'%s' is allowed only as a call with a literal attribute name" % node.id)
        elif isinstance(node, _ast.Attribute):
            if node.attr in STRICT_ATTRS:
                refuse(node, "access to attribute '%s' is not allowed" % node.attr)
        elif isinstance(node, _ast.Constant) and isinstance(node.value, str):
            hit = refused_text(node.value)
            if hit:
                refuse(node, "the string '%s' is not allowed" % hit)
    return tree


def make_audit_hook(profile, user_code, status_fd):
    """Returns the hook. Everything it needs is bound here, as constants or
    builtins captured at creation, so nothing user code can reach changes what
    it does; the caller keeps no reference to it."""
    strict = profile == "strict"
    getframe = sys._getframe
    write = os.write
    exit_now = os._exit
    stdout, stderr = sys.__stdout__, sys.__stderr__
    flush = type(sys.__stdout__).flush
    dumps = json_dumps
    fspath = os.fspath
    lstat, readlink, getcwd = os.lstat, os.readlink, os.getcwd
    # Builtins and the module's constants as locals too: the standard profile can reach builtins and
    # sys.modules, and nothing it rebinds there may change (or run inside) the hook. Nothing here calls
    # a method of an object user code chose: str, bytes and int arguments are judged through these
    # unbound methods (a subclass's overrides never run), anything else as described in path_of.
    type_, issubclass_, len_, OSError_, ValueError_ = type, issubclass, len, OSError, ValueError
    str_copy, str_eq, str_startswith, str_split = str.__str__, str.__eq__, str.startswith, str.split
    bytes_decode = bytes.decode
    filename, violation_exit = FILENAME, VIOLATION_EXIT
    always_refused, process_events, write_path_events = ALWAYS_REFUSED, PROCESS_EVENTS, WRITE_PATH_EVENTS
    strict_modules, strict_user_refused, strict_refused = STRICT_MODULES, STRICT_USER_REFUSED, STRICT_REFUSED
    frame_attrs, write_flags, af_unix = FRAME_ATTRS, WRITE_FLAGS, AF_UNIX
    realpath = os.path.realpath  # at creation only, on the image's own directories
    library_dirs = tuple(realpath(d) + "/" for d in LIBRARY_DATA_DIRS)
    library_files = frozenset(LIBRARY_DATA_FILES)
    busy = [False]

    def user_line():
        f = getframe(2)
        while f is not None:
            if str_eq(filename, f.f_code.co_filename):
                return f.f_lineno
            f = f.f_back
        return None

    def caller_is_user(through_imports=False):
        # The Python frame that caused the event (frame 0 is this function, 1 the hook). For an
        # import, the statement that asked for it: step past the import machinery first.
        f = getframe(2)
        while through_imports and f is not None and str_startswith(f.f_code.co_filename, "<frozen importlib"):
            f = f.f_back
        return f is not None and str_eq(filename, f.f_code.co_filename)

    def resolve(path):
        """The absolute path the kernel would open for `path`: every symlink (readlink, at most 40),
        "." and ".." resolved component by component, as realpath does, but with the C functions
        bound above (posixpath's globals are user-reachable). A missing component ends the walk's
        lookups: what follows is joined as written, and the kernel's open fails there anyway."""
        if not str_startswith(path, "/"):
            path = getcwd() + "/" + path
        todo = str_split(path, "/")
        todo.reverse()
        done, links, missing = "", 0, False
        while todo:
            name = todo.pop()
            if name == "" or name == ".":
                continue
            if name == "..":
                done = done[: done.rfind("/")] if done else ""
                continue
            here = done + "/" + name
            if not missing:
                try:
                    mode = lstat(here).st_mode
                except (OSError_, ValueError_):
                    missing = True
                    mode = 0
                if mode & 0o170000 == 0o120000:
                    links += 1
                    if links > 40:
                        return None
                    target = readlink(here)
                    if str_startswith(target, "/"):
                        done = ""
                    parts = str_split(target, "/")
                    parts.reverse()
                    todo.extend(parts)
                    continue
            done = here
        return done or "/"

    def library_data(path):
        if path is None or path == "":
            return False
        path = resolve(path)
        if path is None:
            return False
        return path in library_files or str_startswith(path + "/", library_dirs)

    def refuse(message):
        line = user_line()
        payload = dumps({"message": message, "line": line})
        for stream in (stdout, stderr):
            try:
                flush(stream)
            except Exception:
                pass
        try:
            write(status_fd, b"violation " + payload.encode() + b"\n")
        finally:
            exit_now(violation_exit)

    def plain_path(value):
        kind = type_(value)
        if issubclass_(kind, str):
            return str_copy(value)
        if issubclass_(kind, bytes):
            return bytes_decode(value, "utf-8", "surrogateescape")
        return ""

    def path_of(value):
        """The path an event names, as an exact str; None for a descriptor; "" when unknown."""
        kind = type_(value)
        if issubclass_(kind, int):
            return None  # an already-open descriptor
        if issubclass_(kind, (str, bytes)):
            return plain_path(value)
        # A path-like object (os.open, os.mkdir and the like pass it as given; io.open converts it
        # before its event, and sys.audit passes anything). Its __fspath__ is the program's code if
        # the program defined or patched it, and may answer the C call and this one differently:
        # strict judges it unknown (refused); standard asks it with the hook's guard down, so
        # whatever it does is audited like any other code, and judges the answer.
        if strict:
            return ""
        busy[0] = False
        try:
            path = fspath(value)
        except Exception:
            return ""
        finally:
            busy[0] = True
        return plain_path(path)

    def under_tmp(path):
        return path is not None and str_startswith(path + "/", "/tmp/") and ".." not in str_split(path, "/")

    def is_write(mode, flags):
        # Both come from C (a str mode, or None, and an int of flags) unless sys.audit forged them.
        text = plain_path(mode)
        if "w" in text or "a" in text or "x" in text or "+" in text:
            return True
        return issubclass_(type_(flags), int) and int.__and__(flags, write_flags) != 0

    def hook(event, args):
        if busy[0]:
            return
        busy[0] = True
        try:
            if event in always_refused:
                refuse("%s() is not allowed" % event)
            if event in process_events:
                refuse("process creation (%s) is not allowed" % event)
            if str_startswith(event, "socket."):
                # A local socketpair (asyncio's self-pipe) reaches nothing; every other socket is refused.
                if not (event == "socket.__new__" and len_(args) > 1 and type_(args[1]) is int and args[1] == af_unix):
                    refuse("network access (%s) is not allowed" % event)
            if str_startswith(event, "ctypes."):
                refuse("ctypes is not allowed")
            if event == "open":
                path = path_of(args[0]) if args else ""
                writing = is_write(args[1] if len_(args) > 1 else None, args[2] if len_(args) > 2 else 0)
                if writing and (strict or not under_tmp(path)):
                    where = "" if strict else " outside /tmp"
                    refuse("writing files%s is not allowed (%s)" % (where, path))
                # Strict reads: see LIBRARY_DATA_DIRS. The program's own open (io.open, os.open or
                # FileIO called from its code) is refused whatever it names; a library's is judged by
                # where its path resolves.
                if strict and path is not None and (caller_is_user() or not library_data(path)):
                    refuse("reading '%s' is not allowed" % (path or "a path-like object"))
            elif event in write_path_events:
                path = path_of(args[0]) if args else ""
                # An fd target (ftruncate, fchmod) was already judged when it was opened.
                if strict or (path is not None and not under_tmp(path)):
                    refuse("changing files%s is not allowed (%s %s)" % ("" if strict else " outside /tmp", event, path))
            elif strict:
                if event == "exec" and args and args[0] is user_code:
                    return
                if event in strict_refused:
                    refuse("%s is not allowed" % event)
                if event == "import" and args:
                    name = plain_path(args[0])
                    if str_split(name, ".")[0] in strict_modules and caller_is_user(True):
                        refuse("import of '%s' is not allowed" % name)
                if event in strict_user_refused and caller_is_user():
                    refuse("%s is not allowed" % event)
                if event == "object.__getattr__" and len_(args) > 1 and type_(args[1]) is str:
                    if args[1] in frame_attrs and caller_is_user():
                        refuse("access to attribute '%s' is not allowed" % args[1])
        finally:
            busy[0] = False

    return hook


def report_violation(status_fd, violation):
    payload = json_dumps({"message": violation.message, "line": violation.line})
    os.write(status_fd, b"violation " + payload.encode() + b"\n")
    os._exit(VIOLATION_EXIT)


def read_job(job_fd):
    raw = read_fd(job_fd)
    header, _, body = raw.partition(b"\n")
    job = json_loads(header)
    code_len, stdin_len = job["code"], job["stdin"]
    if len(body) != code_len + stdin_len:
        raise ValueError("job truncated")
    return job, body[:code_len], body[code_len:]


def stdin_from(data):
    # An in-memory file as fd 0: the whole input is there at once and nothing else can write to it.
    fd = os.memfd_create("stdin", 0)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    if fd != 0:
        os.dup2(fd, 0)
        os.close(fd)
    # The interpreter's own stdin object belongs to the supervisor: UTF-8 mode's settings, over the new fd 0.
    sys.stdin = sys.__stdin__ = open(0, "r", encoding="utf-8", errors="surrogateescape", closefd=False)


def serve(job_fd, status_fd, artifact_fd=None):
    """Entry point of a forked child: waits for its job, then runs it. Never returns."""
    try:
        job, source, stdin = read_job(job_fd)
        stdin_from(stdin)
        figures = FigureSink.for_job(artifact_fd, job.get("artifacts"))
    except Exception:
        os._exit(70)  # the supervisor sent a bad job, or died: nothing of the user's ran
    args = job.get("args", [])  # the supervisor checked: a list of str
    run_program(
        source, int(job["time_ms"]), int(job["memory_mb"]), job.get("policy", "strict"), status_fd, args, figures
    )


def run_program(source, time_ms, memory_mb, profile, status_fd, args=(), figures=None):
    base_rss = set_limits(time_ms, memory_mb)
    os.write(status_fd, b"base %d\n" % (base_rss // 1024))
    sys.argv = [FILENAME, *args]
    sys.path = [p for p in sys.path if p]

    try:
        if profile == "off":
            code = compile(source, FILENAME, "exec", dont_inherit=True)
        else:
            # Parsed once from the exact bytes received (coding cookie included); the checked tree is what runs.
            tree = compile(source, FILENAME, "exec", _ast.PyCF_ONLY_AST)
            if profile == "strict":
                check_tree(tree)
            code = compile(tree, FILENAME, "exec", dont_inherit=True)
    except Violation as violation:
        report_violation(status_fd, violation)
    except (SyntaxError, ValueError) as exc:
        import traceback  # imported on failure only: with linecache, 40+ ms of sandbox start-up

        traceback.print_exception(exc, limit=0)
        fast_exit(1, status_fd)

    # A fresh module for the user: nothing of the supervisor or this bootstrap is reachable through
    # sys.modules['__main__'].
    module = type(sys)("__main__")
    module.__file__ = FILENAME
    module.__builtins__ = __builtins__
    sys.modules["__main__"] = module
    namespace = module.__dict__
    if figures is not None:
        figures.install_show()
    if profile != "off":
        sys.addaudithook(make_audit_hook(profile, code, status_fd))
    # The supervisor's clock for the time limit and the reported time starts here,
    # so process start-up is not billed to the submission.
    os.write(status_fd, b"start %.9f\n" % time.monotonic())
    try:
        exec(code, namespace)
        status = 0
    except SystemExit as exc:
        status = exit_status(exc)
    except BaseException as exc:
        if isinstance(exc, MemoryError):
            try:
                os.write(status_fd, b"memory_error\n")
            except OSError:
                pass
        import linecache
        import traceback

        text = source.decode("utf-8", "replace")
        linecache.cache[FILENAME] = (len(text), None, text.splitlines(True), FILENAME)
        # Drop this bootstrap's own frame so the traceback starts in the user's file.
        tb = exc.__traceback__.tb_next if exc.__traceback__ else None
        traceback.print_exception(type(exc), exc, tb)
        status = 1
    fast_exit(status, status_fd, figures)


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
    pipe tells the supervisor the program ended by its own path: under gVisor's systrap platform
    the host's OOM killer can kill just the program's address space, and gVisor then ends the
    program with an exit status of its own (1) that would otherwise look like a plain failure."""
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
    except BaseException:
        import traceback

        traceback.print_exc()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:
            pass
    try:
        os.write(status_fd, b"exit\n")
    except OSError:
        pass
    os._exit(status)


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
                import traceback

                print("sbx: %s could not be rendered:" % name, file=sys.stderr)
                traceback.print_exc()
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
