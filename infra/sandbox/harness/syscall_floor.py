"""The seccomp floor: a filter each forked child installs on itself, as the program's uid, right
before the program's first line. Whatever the policy layer above misses, the kernel below (gVisor's
sentry) then refuses: a program that tries to start a process, run a program or open a network
socket dies of SIGSYS, and the supervisor reports KILLED_MESSAGE for that death.

The rules and why each one is there: docs/security.md, "The seccomp floor". What gVisor does with each
action was measured under runsc 20240729 (systrap), not assumed; it decides the action used to stop
a call (see STOP).

Loaded by the supervisor before its first fork, so the import of Debian's python3-seccomp and the
building of the rules are paid once; install() in each child only compiles and loads the filter.
It imports nothing of the harness (standard library and python3-seccomp only), so it loads the same
imported by name or executed from its source file.
"""

import errno
import os
import signal
import sys

# What the child dies of when the filter stops it. Nothing else can deliver it: the filter also
# refuses every way a program could send SIGSYS itself (see _sigsys_rules).
KILL_SIGNAL = int(signal.SIGSYS)  # 31 on x86_64
KILLED_MESSAGE = (
    "the program tried to start a process, run a program or open a network socket; "
    "the sandbox's seccomp filter stopped it"
)

DIST_PACKAGES = "/usr/lib/python3/dist-packages"

# Linux's x86_64 values (the sandbox images are amd64 only; the filter refuses any other ABI).
CLONE_THREAD = 0x00010000
AF_UNIX = 1
F_SETSIG = 10
PR_SET_PDEATHSIG = 1
PR_SET_SECCOMP = 22
# int arguments: the kernel reads only the low 32 bits of the register. Comparing only those means
# junk in the high half cannot make 31 look like something else to the filter but not to the kernel.
INT_BITS = 0xFFFFFFFF


def _import_seccomp():
    # -I -S keep dist-packages (where python3-seccomp lives) off sys.path: borrow it for this one import
    # and leave sys.path and sys.modules as the program would have found them.
    borrowed = DIST_PACKAGES not in sys.path
    had_module = "seccomp" in sys.modules
    if borrowed:
        sys.path.append(DIST_PACKAGES)
    try:
        import seccomp
    finally:
        if borrowed:
            sys.path.remove(DIST_PACKAGES)
        if not had_module:
            sys.modules.pop("seccomp", None)
    return seccomp


seccomp = _import_seccomp()

# How a forbidden call is stopped: SECCOMP_RET_TRAP. The call is not made and the calling thread gets
# SIGSYS, whose default action ends the whole process, from any thread. Not KILL_PROCESS: under runsc
# 20240729 it ended only the calling thread (measured; as Linux before 4.14 did), so a fork from a
# worker thread left the process running, or hung on the GIL the dead thread held, and the verdict
# became a time limit. libseccomp refuses to build KILL_PROCESS there anyway (gVisor lacks
# SECCOMP_GET_ACTION_AVAIL: API level 2). gVisor sends TRAP's SIGSYS like any signal instead of forcing
# it as Linux does (a handler, SIG_IGN or a blocked mask would catch it), so the rules below keep
# SIGSYS at its default action and deliverable.
STOP = seccomp.TRAP
DENY = seccomp.ERRNO(errno.EPERM)
NOSYS = seccomp.ERRNO(errno.ENOSYS)


def _int_arg(index, value):
    return seccomp.Arg(index, seccomp.MASKED_EQ, INT_BITS, value)


# Every way to make a process, run a program, or use a network socket: the program dies where the
# supervisor can tell why. Unconditional ones first.
_PROCESS_AND_NETWORK = ("fork", "vfork", "execve", "execveat", "bind", "connect", "listen", "accept", "accept4")


def _process_and_network_rules():
    rules = [(STOP, name) for name in _PROCESS_AND_NETWORK]
    # A clone without CLONE_THREAD is a new process (fork, vfork, posix_spawn's CLONE_VFORK); with it
    # (which needs CLONE_SIGHAND and so CLONE_VM), a thread of this one, under this filter.
    rules.append((STOP, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0)))
    # clone3 passes its flags in memory the filter cannot read: ENOSYS makes glibc (pthread_create,
    # posix_spawn) fall back to clone, whose flags it can.
    rules.append((NOSYS, "clone3"))
    # Every family but AF_UNIX dies (a domain with junk in its high half too: EQ/NE compare all 64
    # bits). AF_UNIX is refused quietly instead: glibc's NSS (pwd, grp, getaddrinfo) and libuuid open
    # one to ask nscd/uuidd and fall back when they cannot, and it could reach nothing anyway
    # (connect and bind die, --host-uds=none).
    rules.append((DENY, "socket", seccomp.Arg(0, seccomp.EQ, AF_UNIX)))
    rules.append((STOP, "socket", seccomp.Arg(0, seccomp.NE, AF_UNIX)))
    # asyncio's event loop wakes itself through an AF_UNIX socketpair; no other family has a use here.
    rules.append((STOP, "socketpair", seccomp.Arg(0, seccomp.NE, AF_UNIX)))
    return rules


def _sigsys_rules():
    """SIGSYS must mean the filter: every call that could make this process (or any other) receive
    it, from the program itself, is refused. Other signals still go through."""
    return [
        (DENY, "kill", _int_arg(1, KILL_SIGNAL)),
        (DENY, "tkill", _int_arg(1, KILL_SIGNAL)),
        (DENY, "tgkill", _int_arg(2, KILL_SIGNAL)),
        (DENY, "rt_sigqueueinfo", _int_arg(1, KILL_SIGNAL)),
        (DENY, "rt_tgsigqueueinfo", _int_arg(2, KILL_SIGNAL)),
        (DENY, "pidfd_send_signal", _int_arg(1, KILL_SIGNAL)),
        # I/O readiness signals (fcntl.fcntl(fd, F_SETSIG, 31) with O_ASYNC) and the parent-death signal.
        (DENY, "fcntl", _int_arg(1, F_SETSIG), _int_arg(2, KILL_SIGNAL)),
        (DENY, "prctl", _int_arg(0, PR_SET_PDEATHSIG), _int_arg(1, KILL_SIGNAL)),
        # A struct sigevent (in memory the filter cannot read) can name any signal; no Python API uses these.
        (DENY, "timer_create"),
        (DENY, "mq_notify"),
        # SIGSYS keeps its default action (the process ends) and stays deliverable: no handler or
        # SIG_IGN may be set (querying with a NULL action is fine), and a SIGSYS left pending while
        # blocked cannot be consumed (gVisor delivers STOP's signal like any other; see STOP).
        (DENY, "rt_sigaction", _int_arg(0, KILL_SIGNAL), seccomp.Arg(1, seccomp.NE, 0)),
        (DENY, "rt_sigtimedwait"),
        (DENY, "signalfd"),
        (DENY, "signalfd4"),
        # A second filter of the program's own could trap with SIGSYS too: none may be added.
        (DENY, "seccomp"),
        (DENY, "prctl", _int_arg(0, PR_SET_SECCOMP)),
    ]


# Surface reduction: calls no program here needs, refused with EPERM (a catchable PermissionError).
_DENIED = (
    # Other processes' memory and descriptors, and the sentry's ptrace emulation.
    "ptrace process_vm_readv process_vm_writev pidfd_getfd kcmp "
    # Namespaces, mounts and the root: all need capabilities the program lacks; the code behind them is large.
    "unshare setns mount umount2 pivot_root chroot fsopen fsconfig fsmount fspick move_mount open_tree "
    "mount_setattr open_by_handle_at name_to_handle_at "
    # Interfaces with a long record of kernel holes; io_uring also performs socket/connect unseen by seccomp.
    "bpf perf_event_open userfaultfd io_uring_setup io_uring_enter io_uring_register "
    # Kernel keyrings are not namespaced on Linux.
    "keyctl add_key request_key "
    # Machine administration: never the program's business.
    "kexec_load kexec_file_load reboot init_module finit_module delete_module swapon swapoff acct "
    "settimeofday clock_settime"
).split()


def _rules():
    """(action, syscall, *argument conditions) for every rule: the table in docs/security.md."""
    rules = _process_and_network_rules() + _sigsys_rules()
    rules += [(DENY, name) for name in _DENIED]
    return rules


def _build():
    syscall_filter = seccomp.SyscallFilter(seccomp.ALLOW)
    # i386 (int 0x80) and x32 calls from this x86_64 process: a different syscall table, outside the
    # rules above. libseccomp checks the arch and the x32 bit before any rule.
    syscall_filter.set_attr(seccomp.Attr.ACT_BADARCH, STOP)
    # A binary search over the listed syscalls instead of a linear chain: every allowed call pays for
    # the walk (11-15 BPF instructions instead of 73; docs/security.md).
    syscall_filter.set_attr(seccomp.Attr.CTL_OPTIMIZE, 2)
    # Every thread of the process, should the child ever have one before install().
    syscall_filter.set_attr(seccomp.Attr.CTL_TSYNC, 1)
    for action, name, *conditions in _rules():
        syscall_filter.add_rule_exactly(action, name, *conditions)
    return syscall_filter


_FILTER = _build()


class _Sink:
    """Where prepare() sends the compiled program: a pipe end, so nothing is opened by path."""

    def __init__(self, fd):
        self.fd = fd

    def fileno(self):
        return self.fd


def prepare():
    """Optional, in a fresh child while it waits for its job, before any audit hook: install() then
    costs a fraction.

    Most of a cold install() is the child's first touches of pages after fork (gVisor maps a forked
    address space lazily): compiling the same filter again once they are touched takes 0.2 ms.
    Compiling it once here, off the program's clock, takes those faults early."""
    signal.signal(signal.SIGSYS, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, (signal.SIGSYS,))
    read_end, write_end = os.pipe()  # the program is about 1 KB: it fits in the pipe's buffer
    try:
        _FILTER.export_bpf(_Sink(write_end))
    finally:
        os.close(read_end)
        os.close(write_end)


def install():
    """Installs the filter on the calling process (and its threads) for good; raises on any failure.

    Call from the main thread. Nothing here raises an audit event (the program's hook may already be
    installed): the signal calls raise none, and libseccomp sets no_new_privs, compiles the prebuilt
    rules to BPF and loads them with seccomp(2) in C."""
    # STOP works through SIGSYS's default action: whatever the supervisor left, restore it.
    signal.signal(signal.SIGSYS, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, (signal.SIGSYS,))
    _keep_sigsys_deliverable()
    _FILTER.load()


def _keep_sigsys_deliverable():
    """A filter cannot read the signal set rt_sigprocmask is given, and a SIGSYS the program blocked
    would leave a stopped call unreported (gVisor does not force it). Python's one way to block a
    signal, _signal.pthread_sigmask (which signal.pthread_sigmask calls through the module), leaves
    SIGSYS out of what it blocks from now on. Native code could still block it: the images carry no
    module that exposes sigprocmask, and ctypes is not in them."""
    import _signal

    original = _signal.pthread_sigmask
    sigsys, unblock = KILL_SIGNAL, signal.SIG_UNBLOCK

    def pthread_sigmask(how, mask):
        if how != unblock:
            mask = [s for s in mask if int(s) != sigsys]
        return original(how, mask)

    pthread_sigmask.__doc__ = original.__doc__
    _signal.pthread_sigmask = pthread_sigmask


def deliver_pending():
    """For the child's way out: a call the filter stopped while the program kept SIGSYS blocked left
    the signal pending; unblocking it here ends the process with the filter's verdict instead of
    letting it exit as if nothing happened. Does nothing otherwise."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, (signal.SIGSYS,))


def killed_by_filter(wait_status):
    """Whether an os.waitpid status is the filter's kill (a SIGSYS death)."""
    return os.WIFSIGNALED(wait_status) and os.WTERMSIG(wait_status) == KILL_SIGNAL
