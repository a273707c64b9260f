"""The policy layer's audit hook: early, readable refusals of actions, from inside the program's
interpreter. Defence in depth only (see sbx_policy.py): the seccomp filter is the wall.
"""

import os
import sys

from sbx_policy import (
    AF_UNIX,
    ALWAYS_REFUSED,
    FRAME_ATTRS,
    LIBRARY_DATA_DIRS,
    LIBRARY_DATA_FILES,
    PROCESS_EVENTS,
    STRICT_MODULES,
    STRICT_REFUSED,
    STRICT_USER_REFUSED,
    WRITE_FLAGS,
    WRITE_PATH_EVENTS,
)
from sbx_wire import EXIT, PROGRAM, json_dumps

FILENAME = PROGRAM["filename"]
VIOLATION_EXIT = EXIT["violation"]


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

    def judge_sqlite(event, args):
        # SQLite opens and writes its database in C, past the open event: judged as a write of that path.
        if event in ("sqlite3.load_extension", "sqlite3.enable_load_extension"):
            if event == "sqlite3.load_extension" or (len_(args) > 1 and args[1]):
                refuse("loading native code into SQLite is not allowed")
            return
        if event != "sqlite3.connect":
            return
        path = path_of(args[0]) if args else ""
        if path == ":memory:":
            return
        if strict or not under_tmp(path):
            refuse("writing files%s is not allowed (SQLite database %s)" % ("" if strict else " outside /tmp", path))

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
            elif str_startswith(event, "sqlite3."):
                judge_sqlite(event, args)
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
