"""child.compile_program: what the program's own source makes the compiler raise is the program's
runtime error (exit 1, its traceback on stderr), never the harness's failure (no Docker).

    /usr/bin/python3 -m unittest discover -s test/harness -p 'test_*.py'
"""

import os
import unittest

import harness_path  # noqa: F401  (puts the harness on sys.path)
import child
from forked_child import spawn

# 20,000 operands: the parser's nesting limit, reached by a flat-looking line (hostile case 034).
TOO_DEEP = "x = " + " + ".join(["1"] * 20000) + "\n"


def compile_in_child(source, profile):
    """compile_program(source, profile) in a forked child: (exit code, stderr, status pipe)."""
    pid, pipes = spawn(lambda status_w, _artifact_w: child.compile_program(source, profile, status_w))
    _, status = os.waitpid(pid, 0)
    os.close(pipes.out_r)
    os.close(pipes.artifact_r)
    with os.fdopen(pipes.err_r, "rb") as err, os.fdopen(pipes.status_r, "rb") as events:
        return os.waitstatus_to_exitcode(status), err.read().decode(), events.read().decode()


class CompileProgram(unittest.TestCase):
    def test_source_too_deep_to_parse_is_the_programs_runtime_error(self):
        for profile in ("strict", "standard", "off"):
            with self.subTest(profile=profile):
                rc, stderr, events = compile_in_child(TOO_DEEP, profile)
                self.assertEqual(rc, 1)
                self.assertIn("RecursionError", stderr)
                self.assertIn("exit", events)

    def test_a_syntax_error_is_exit_1(self):
        rc, stderr, _ = compile_in_child("print(\n", "strict")
        self.assertEqual(rc, 1)
        self.assertIn("SyntaxError", stderr)

    def test_a_plain_program_compiles(self):
        rc, stderr, _ = compile_in_child("print(1 + 1)\n", "strict")
        self.assertEqual((rc, stderr), (0, ""))


if __name__ == "__main__":
    unittest.main()


class Reseed(unittest.TestCase):
    """A restored sandbox's child was forked before the checkpoint: reseed() must make its draws its own."""

    def test_random_and_tempfile_names_are_drawn_afresh(self):
        import random
        import tempfile

        random.seed(1234)
        tempfile._get_candidate_names()  # makes the name generator, seeded from `random` as it was
        restored = random.getstate()
        child.reseed()
        self.assertNotEqual(random.getstate(), restored)
        self.assertIsNone(tempfile._name_sequence)

    def test_numpy_global_generator_when_loaded(self):
        calls = []
        fake = {"numpy.random": type("NumpyRandom", (), {"seed": staticmethod(lambda: calls.append("seed"))})}
        child.reseed(fake)
        self.assertEqual(calls, ["seed"])

    def test_modules_not_loaded_stay_unloaded(self):
        child.reseed({})  # nothing imported: nothing to do, nothing imported on the program's behalf
