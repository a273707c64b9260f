"""sbx_tracebacks.format_exception: a program's traceback as Python prints it, without the harness's
frames, its own lines from the source it was given (no Docker).

    /usr/bin/python3 -m unittest discover -s test/harness -p 'test_*.py'
"""

import linecache
import os
import traceback
import unittest

import harness_path  # noqa: F401  (puts the harness on sys.path)
import sbx_tracebacks

# A frame of the harness's: code compiled with a filename under the harness folder (no such file).
HARNESS_FILE = os.path.join(sbx_tracebacks.HARNESS_DIR, "not_a_real_harness_module.py")
_harness = {}
exec(compile("def harness_call(function, *args):\n    return function(*args)\n", HARNESS_FILE, "exec"), _harness)


def run_program(source):
    """Runs source as main.py, as the child runs a program (through a harness frame); returns what it raised."""
    code = compile(source, sbx_tracebacks.FILENAME, "exec")
    try:
        _harness["harness_call"](exec, code, {"harness_call": _harness["harness_call"], "__name__": "__main__"})
    except BaseException as exc:  # noqa: BLE001  (what the program raised, whatever it is)
        return exc
    raise AssertionError("the program raised nothing")


PROGRAM = b"""\
def inner(x):
    raise ValueError('boom %d' % x)

def outer():
    return harness_call(inner, 7)

outer()
"""


class TracebackTests(unittest.TestCase):
    def setUp(self):
        linecache.cache.pop(sbx_tracebacks.FILENAME, None)

    def tearDown(self):
        linecache.cache.pop(sbx_tracebacks.FILENAME, None)

    def test_harness_frames_are_removed_program_lines_shown(self):
        exc = run_program(PROGRAM)
        # Without filtering, the harness's frames are there (so the test below can fail).
        self.assertIn(HARNESS_FILE, "".join(traceback.format_exception(exc)))
        text = sbx_tracebacks.format_exception(exc, PROGRAM)
        self.assertNotIn(sbx_tracebacks.HARNESS_DIR, text)
        self.assertIn('File "main.py", line 7, in <module>\n    outer()\n', text)
        self.assertIn('File "main.py", line 5, in outer\n    return harness_call(inner, 7)\n', text)
        self.assertIn('File "main.py", line 2, in inner\n    raise ValueError(\'boom %d\' % x)\n', text)
        self.assertTrue(text.startswith("Traceback (most recent call last):\n"))
        self.assertTrue(text.endswith("ValueError: boom 7\n"))

    def test_without_the_source_no_program_line_is_shown(self):
        text = sbx_tracebacks.format_exception(run_program(PROGRAM))
        self.assertIn('File "main.py", line 2, in inner\n', text)
        self.assertNotIn("raise ValueError", text)

    def test_causes_and_contexts_lose_their_harness_frames_too(self):
        source = b"""\
def fails():
    raise KeyError('first')

def wraps():
    try:
        harness_call(fails)
    except KeyError as e:
        raise RuntimeError('second') from e

def handles():
    try:
        harness_call(wraps)
    except RuntimeError:
        harness_call(int, 'third')

handles()
"""
        exc = run_program(source)
        self.assertIsInstance(exc, ValueError)
        self.assertIsInstance(exc.__context__, RuntimeError)
        self.assertIsInstance(exc.__context__.__cause__, KeyError)
        self.assertIn(HARNESS_FILE, "".join(traceback.format_exception(exc)))
        text = sbx_tracebacks.format_exception(exc, source)
        self.assertNotIn(sbx_tracebacks.HARNESS_DIR, text)
        for shown in ("KeyError: 'first'", "RuntimeError: second", "ValueError: invalid literal for int()"):
            self.assertIn(shown, text)
        self.assertIn("The above exception was the direct cause of the following exception:", text)
        self.assertIn("During handling of the above exception, another exception occurred:", text)
        self.assertIn("    raise RuntimeError('second') from e\n", text)
        self.assertIn("    harness_call(int, 'third')\n", text)

    def test_exception_groups_lose_their_harness_frames(self):
        source = b"""\
def one():
    raise ValueError('one')

errors = []
try:
    harness_call(one)
except ValueError as e:
    errors.append(e)
raise ExceptionGroup('many', errors)
"""
        exc = run_program(source)
        self.assertIn(HARNESS_FILE, "".join(traceback.format_exception(exc)))
        text = sbx_tracebacks.format_exception(exc, source)
        self.assertNotIn(sbx_tracebacks.HARNESS_DIR, text)
        self.assertIn("ExceptionGroup: many (1 sub-exception)", text)
        self.assertIn("ValueError: one", text)
        self.assertIn("    raise ValueError('one')\n", text)


if __name__ == "__main__":
    unittest.main()
