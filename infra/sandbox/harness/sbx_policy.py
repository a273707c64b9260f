"""The policy layer's tables and its static check (the strict profile's AST refusals).

Defence in depth only: these give early, readable refusals. What the sandbox forbids is enforced
below Python (syscall_floor.py's seccomp filter, gVisor, the container), and no promise rests on
these lists being complete.
"""

import _ast
import os


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


