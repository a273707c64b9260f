"""The program's processes and files: forking a child with descriptors of its own, the program's
user, and leaving nothing of one test behind for the next."""

import os
import stat
import sys

from sbx_wire import EXIT, PROGRAM

PROGRAM_UID = PROGRAM["uid"]
PROGRAM_GID = PROGRAM["gid"]
# Where a program can write (the container's tmpfs mounts): emptied between tests.
PROGRAM_WRITABLE_DIRS = ("/tmp", "/dev/shm")


def become_program_user():
    """In a fresh child, before anything of a job: the program's uid, no groups, no capability left
    (a change of every uid away from 0 clears the permitted and effective sets)."""
    if os.geteuid() != 0:
        return  # started by hand as someone else: already unprivileged
    os.setgroups([])
    os.setresgid(PROGRAM_GID, PROGRAM_GID, PROGRAM_GID)
    os.setresuid(PROGRAM_UID, PROGRAM_UID, PROGRAM_UID)


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


def kill_all_but_me():
    """Every process but this one (PID 1, which kill(-1) spares). The seccomp filter already keeps
    a program to its one process; this is the second fence, and it costs one syscall."""
    try:
        os.kill(-1, 9)
    except OSError:
        pass


def empty_dir(path):
    """Removes what is under `path` (not path itself), symlinks never followed. Run as the program's
    user on its own files: a folder it made unreadable is opened up first."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return
    try:
        _empty_at(fd)
    finally:
        os.close(fd)


def _empty_at(dir_fd):
    try:
        names = os.listdir(dir_fd)
    except OSError:
        return
    for name in names:
        try:
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                _empty_subdir(dir_fd, name, info)
                os.rmdir(name, dir_fd=dir_fd)
            else:
                os.unlink(name, dir_fd=dir_fd)
        except OSError:
            pass  # not the program's (the image's own), or already gone


def _empty_subdir(dir_fd, name, info):
    if info.st_mode & 0o700 != 0o700:
        # A folder it made unreadable. Following is safe: no process of the program lives to swap
        # it for a symlink (the lstat above said folder).
        os.chmod(name, 0o700, dir_fd=dir_fd)
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        _empty_at(fd)
    finally:
        os.close(fd)


def write_program_files(files, folder):
    """The job's files, in `folder` (the working directory), before its program runs. Run as the
    program's user, so they are its own; O_EXCL and O_NOFOLLOW: a name already there (a leftover
    nothing should have left) fails the job rather than writing through a link."""
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name, data in files:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(name, flags, 0o644, dir_fd=dir_fd)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
    finally:
        os.close(dir_fd)


def forget_program_files():
    """After a test, before the next: nothing the program wrote survives into another test."""
    for path in PROGRAM_WRITABLE_DIRS:
        as_program_user(empty_dir, path)


class WaitingChild:
    """A forked child blocked on its job pipe, with descriptors made for it alone: its stdout and
    stderr are pipes this process relays (sbx_relay); its stdin an in-memory file it makes once its
    job arrives, or, for an interactive job, the pipe `in_w` writes to (sbx_relay.InputFeed), which
    this process closes for any other job (close_input). Nothing of any job is in it yet: it is
    forked before this process reads one."""

    def __init__(self, serve):
        job_r, job_w = os.pipe()
        status_r, status_w = os.pipe()
        # Figures the child sends back (sbx_figures.FigureSink), read while it runs (ArtifactSink).
        artifact_r, artifact_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        in_r, in_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            self._become_child(serve, job_r, status_w, artifact_w, out_w, err_w, in_r)
        for fd in (job_r, status_w, artifact_w, out_w, err_w, in_r):
            os.close(fd)
        self.pid = pid
        self.job_w = job_w
        self.status_r = status_r
        self.artifact_r = artifact_r
        self.out_r = out_r
        self.err_r = err_r
        self.in_w = in_w

    def close_input(self):
        """Not an interactive job: nothing is ever written to the child's input pipe."""
        if self.in_w is not None:
            os.close(self.in_w)
            self.in_w = None

    @staticmethod
    def _become_child(serve, job_r, status_w, artifact_w, out_w, err_w, in_r):
        try:
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            keep = (1, 2, job_r, status_w, artifact_w, in_r)
            # Only what this process has open (the supervisor's stdin among it): closing all 256
            # possible fds costs 256 syscalls.
            for fd in [int(name) for name in os.listdir("/proc/self/fd")]:
                if fd not in keep:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            become_program_user()
            ready = serve(job_r, status_w, artifact_w, in_r)
        except BaseException:
            os._exit(EXIT["frame_error"])  # never run a program as the supervisor's user, on its fds, or half-prepared
        # Up through every harness frame to the supervisor's top level, which runs the program.
        raise ready
