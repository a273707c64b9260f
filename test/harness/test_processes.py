"""sbx_processes.empty_dir: what a test leaves in the program's writable folders is removed before the
next, symlinks never followed (no Docker). Only on a temporary folder made here: never call
forget_program_files() on the host (it empties /tmp and /dev/shm).

    /usr/bin/python3 -m unittest discover -s test/harness -p 'test_*.py'
"""

import os
import shutil
import sys
import tempfile
import unittest

import harness_path  # noqa: F401  (puts the harness on sys.path)
import sbx_processes

# As root, a folder of mode 000 is readable anyway: the emptying runs as this user instead, as the
# supervisor runs it (as_program_user), so that opening such a folder up first is what makes it work.
NOBODY = 65534


def in_child(function):
    """Runs function() in a forked child, as NOBODY when this process is root; returns its exit code."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            if os.geteuid() == 0:
                os.setgroups([])
                os.setresgid(NOBODY, NOBODY, NOBODY)
                os.setresuid(NOBODY, NOBODY, NOBODY)
            function()
        except BaseException as exc:
            try:
                os.write(2, ("child failed: %r\n" % exc).encode())
            except BaseException:
                pass
            code = 1
        os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def write(path, data=b"x"):
    with open(path, "wb") as f:
        f.write(data)


class EmptyDirTests(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="sbx-empty-dir-test-")
        if os.geteuid() == 0:
            os.chown(self.root, NOBODY, NOBODY)
        self.d = os.path.join(self.root, "writable")
        self.outside = os.path.join(self.root, "outside")

    def tearDown(self):
        for dirpath, dirnames, _ in os.walk(self.root):
            for name in dirnames:
                path = os.path.join(dirpath, name)
                if not os.path.islink(path):
                    os.chmod(path, 0o700)
        shutil.rmtree(self.root)

    def build(self):
        """The tree a program could leave, made by the program's user (the child): everything in it
        is its own, the folder outside included, so only not following links keeps that one."""
        d, outside = self.d, self.outside
        os.mkdir(outside)
        write(os.path.join(outside, "target.txt"), b"keep me")
        os.mkdir(os.path.join(outside, "dir"))
        write(os.path.join(outside, "dir", "keep.txt"), b"keep me too")
        os.mkdir(d)
        write(os.path.join(d, "file"))
        write(os.path.join(d, ".hidden"))
        os.makedirs(os.path.join(d, "sub", "deeper"))
        write(os.path.join(d, "sub", "deeper", "file3"))
        os.makedirs(os.path.join(d, "locked", "inner"))
        write(os.path.join(d, "locked", "inner", "file4"))
        os.chmod(os.path.join(d, "locked", "inner"), 0o000)
        os.chmod(os.path.join(d, "locked"), 0o000)
        os.mkdir(os.path.join(d, "readonly"))
        write(os.path.join(d, "readonly", "file5"))
        os.chmod(os.path.join(d, "readonly"), 0o500)
        os.symlink(os.path.join(outside, "target.txt"), os.path.join(d, "link-to-file"))
        os.symlink(os.path.join(outside, "dir"), os.path.join(d, "link-to-dir"))
        os.symlink(os.path.join(outside, "dir"), os.path.join(d, "sub", "nested-link"))
        os.symlink("/nonexistent", os.path.join(d, "dangling"))
        os.mkfifo(os.path.join(d, "fifo"))

    def test_everything_under_the_folder_goes_links_not_followed(self):
        def build_and_empty():
            self.build()
            sbx_processes.empty_dir(self.d)

        self.assertEqual(in_child(build_and_empty), 0)
        self.assertTrue(os.path.isdir(self.d), "the folder itself stays")
        self.assertEqual(os.listdir(self.d), [])
        with open(os.path.join(self.outside, "target.txt"), "rb") as f:
            self.assertEqual(f.read(), b"keep me")
        self.assertEqual(os.listdir(os.path.join(self.outside, "dir")), ["keep.txt"])

    def test_a_folder_that_is_a_link_is_not_emptied(self):
        def link_and_empty():
            self.build()
            link = os.path.join(self.root, "link")
            os.symlink(self.outside, link)
            sbx_processes.empty_dir(link)
            sbx_processes.empty_dir(os.path.join(self.root, "missing"))  # nothing there: nothing happens

        self.assertEqual(in_child(link_and_empty), 0)
        self.assertEqual(sorted(os.listdir(self.outside)), ["dir", "target.txt"])


if __name__ == "__main__":
    unittest.main()
