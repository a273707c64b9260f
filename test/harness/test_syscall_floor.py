"""The seccomp floor on the host's own kernel, without Docker: each case forks, installs the filter in
the child, tries one thing, and is judged by the child's wait status alone (what the supervisor sees).

    /usr/bin/python3 -m unittest discover -s test/harness -p 'test_*.py'

Needs Debian's python3-seccomp (infra/host/ensure-host.sh installs it). The same routes under runsc,
with the python-data libraries, are measured by hand (docs/security.md, "The seccomp floor"): the
host kernel honours the actions more strictly than gVisor, so this proves the rules, not gVisor.
"""

import os
import signal
import socket
import threading
import unittest

import harness_path  # noqa: F401  (puts the harness on sys.path)
import syscall_floor as floor

DONE = 0  # the child ran to the end of its case
RAISED = {PermissionError: 3, OSError: 4}  # the case raised (checked in this order), anything else: 5


def run_in_child(case):
    """Forks; the child installs the floor and runs case(); returns the child's wait status."""
    pid = os.fork()
    if pid == 0:
        code = 5
        try:
            floor.install()
            case()
            code = DONE
        except BaseException as exc:
            code = next((c for kind, c in RAISED.items() if isinstance(exc, kind)), 5)
        finally:
            os._exit(code)
    return os.waitpid(pid, 0)[1]


def describe(status):
    if os.WIFSIGNALED(status):
        return "killed by %s" % signal.Signals(os.WTERMSIG(status)).name
    return "exit %d" % os.WEXITSTATUS(status)


class FloorCase(unittest.TestCase):
    def assertStopped(self, case):
        status = run_in_child(case)
        self.assertTrue(floor.killed_by_filter(status), describe(status))

    def assertExit(self, case, code):
        status = run_in_child(case)
        self.assertEqual(describe(status), "exit %d" % code)


def fork_and_reap():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


def in_thread(fn):
    def case():
        thread = threading.Thread(target=fn)
        thread.start()
        thread.join(5)

    return case


def threads_run():
    results = []
    workers = [threading.Thread(target=results.append, args=(i,)) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(results) == [0, 1, 2, 3]


def socketpair_echoes():
    a, b = socket.socketpair(socket.AF_UNIX)
    with a, b:
        a.sendall(b"ping")
        assert b.recv(4) == b"ping"


class ProcessesAndNetworkDie(FloorCase):
    def test_fork(self):
        self.assertStopped(fork_and_reap)

    def test_fork_from_a_thread_ends_the_whole_process(self):
        self.assertStopped(in_thread(fork_and_reap))

    def test_posix_spawn(self):
        self.assertStopped(lambda: os.posix_spawn("/bin/true", ["true"], {}))

    def test_exec(self):
        self.assertStopped(lambda: os.execv("/bin/true", ["true"]))

    def test_inet_socket(self):
        self.assertStopped(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))

    def test_inet6_datagram_socket(self):
        self.assertStopped(lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM))

    def test_netlink_socket(self):
        self.assertStopped(lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW))

    def test_a_blocked_sigsys_does_not_save_the_program(self):
        def case():
            signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGSYS])
            fork_and_reap()  # Linux forces the signal here; gVisor leaves it pending
            floor.deliver_pending()

        self.assertStopped(case)


class WhatKeepsWorking(FloorCase):
    def test_threads(self):
        self.assertExit(threads_run, DONE)

    def test_socketpair_unix(self):
        self.assertExit(socketpair_echoes, DONE)

    def test_unix_socket_is_refused_quietly(self):
        # glibc's NSS and libuuid try one for nscd/uuidd and fall back when refused.
        self.assertExit(lambda: socket.socket(socket.AF_UNIX), RAISED[PermissionError])

    def test_other_signals_to_self(self):
        status = run_in_child(lambda: os.kill(os.getpid(), signal.SIGKILL))
        self.assertEqual(describe(status), "killed by SIGKILL")


class SigsysMeansTheFilter(FloorCase):
    def test_kill_self_with_sigsys_is_refused(self):
        self.assertExit(lambda: os.kill(os.getpid(), signal.SIGSYS), RAISED[PermissionError])

    def test_raise_sigsys_is_refused(self):
        self.assertExit(lambda: signal.pthread_kill(threading.get_ident(), signal.SIGSYS), RAISED[PermissionError])

    def test_no_handler_and_no_ignore_for_sigsys(self):
        self.assertExit(lambda: signal.signal(signal.SIGSYS, signal.SIG_IGN), RAISED[PermissionError])
        self.assertExit(lambda: signal.signal(signal.SIGUSR1, signal.SIG_IGN), DONE)

    def test_no_second_filter(self):
        def case():
            extra = floor.seccomp.SyscallFilter(floor.seccomp.ALLOW)
            extra.add_rule(floor.seccomp.TRAP, "getppid")
            extra.load()

        status = run_in_child(case)
        self.assertFalse(os.WIFSIGNALED(status), describe(status))
        self.assertNotEqual(os.WEXITSTATUS(status), DONE)


class Surface(FloorCase):
    def test_chroot_is_refused_before_the_path_is_looked_at(self):
        # Linux looks the path up before checking the capability: without the filter a missing path
        # answers ENOENT, root or not. The filter answers EPERM before either.
        self.assertExit(lambda: os.chroot("/no/such/dir"), RAISED[PermissionError])


if __name__ == "__main__":
    unittest.main()
