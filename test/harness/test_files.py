"""sbx_processes.write_program_files: a job's files land beside the program with their exact bytes,
and a name already there (a file or a link) fails rather than being written through (no Docker).

    /usr/bin/python3 -m unittest discover -s test/harness -p 'test_*.py'
"""

import os
import shutil
import tempfile
import unittest

import harness_path  # noqa: F401  (puts the harness on sys.path)
import sbx_processes


class WriteProgramFilesTest(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.folder)

    def read(self, name):
        with open(os.path.join(self.folder, name), "rb") as f:
            return f.read()

    def test_each_file_gets_its_exact_bytes(self):
        payload = bytes(range(256)) * 300  # more than one write may take, not UTF-8
        sbx_processes.write_program_files([("helper.py", b"X = 1\n"), ("data.bin", payload)], self.folder)
        self.assertEqual(self.read("helper.py"), b"X = 1\n")
        self.assertEqual(self.read("data.bin"), payload)

    def test_a_name_already_there_fails(self):
        with open(os.path.join(self.folder, "taken.txt"), "wb") as f:
            f.write(b"before")
        with self.assertRaises(FileExistsError):
            sbx_processes.write_program_files([("taken.txt", b"after")], self.folder)
        self.assertEqual(self.read("taken.txt"), b"before")

    def test_a_link_is_never_followed(self):
        target = os.path.join(self.folder, "target")
        os.symlink(target, os.path.join(self.folder, "link.txt"))
        with self.assertRaises(OSError):
            sbx_processes.write_program_files([("link.txt", b"through")], self.folder)
        self.assertFalse(os.path.exists(target))


if __name__ == "__main__":
    unittest.main()
