"""sbx_policy.check_tree: the strict profile's static refusals (no Docker).

    /usr/bin/python3 -m unittest discover -s test/harness -p 'test_*.py'
"""

import _ast
import unittest

import harness_path  # noqa: F401  (puts the harness on sys.path)
from sbx_policy import Violation, check_tree


def check(source):
    # As child.compile_program parses a program: the exact source, main.py, only the tree.
    return check_tree(compile(source, "main.py", "exec", _ast.PyCF_ONLY_AST))


REFUSED = [
    # (source, what the message starts with, line)
    ("import os", "import of 'os' is not allowed", 1),
    ("import math\nimport os.path as p", "import of 'os.path' is not allowed", 2),
    ("import numpy, socket", "import of 'socket' is not allowed", 1),
    ("from subprocess import run", "import from 'subprocess' is not allowed", 1),
    ("import importlib.util", "import of 'importlib.util' is not allowed", 1),
    ("import pickle", "import of 'pickle' is not allowed", 1),
    ("from matplotlib import subprocess", "import of 'subprocess' from 'matplotlib' is not allowed", 1),
    ("from numpy.lib import npyio, os", "import of 'os' from 'numpy.lib' is not allowed", 1),
    ("from . import os", "import of 'os' from", 1),
    ("x = 1\neval('1')", "use of 'eval' is not allowed", 2),
    ("exec('print(1)')", "use of 'exec' is not allowed", 1),
    ("compile('1', 'f', 'eval')", "use of 'compile' is not allowed", 1),
    ("open('/etc/passwd')", "use of 'open' is not allowed", 1),
    ("__import__('os')", "use of '__import__' is not allowed", 1),
    ("print(globals())", "use of 'globals' is not allowed", 1),
    ("vars()", "use of 'vars' is not allowed", 1),
    ("f = lambda: __builtins__", "use of '__builtins__' is not allowed", 1),
    ("breakpoint()", "use of 'breakpoint' is not allowed", 1),
    ("\uff45\uff56\uff41\uff4c('1')", "use of 'eval' is not allowed", 1),  # fullwidth: NFKC-normalised
    ("name = 'system'\ngetattr(object, name)", "getattr() with a computed attribute name is not allowed", 2),
    ("getattr(object, '__sub' + 'classes__')", "getattr() with a computed attribute name is not allowed", 1),
    ("getattr(object)", "getattr() with a computed attribute name is not allowed", 1),
    ("setattr(x, *names)", "setattr() with a computed attribute name is not allowed", 1),
    ("getattr(object, '__subclasses__')", "access to attribute '__subclasses__' is not allowed", 1),
    ("hasattr(m, 'os')", "access to attribute 'os' is not allowed", 1),
    ("g = getattr", "'getattr' is allowed only as a call with a literal attribute name", 1),
    ("list(map(getattr, [1], ['real']))", "'getattr' is allowed only as a call with a literal attribute name", 1),
    ("().__class__.__bases__", "access to attribute '__bases__' is not allowed", 1),
    ("def f(): pass\nf.__globals__", "access to attribute '__globals__' is not allowed", 2),
    ("import sys\nsys.modules['os']", "access to attribute 'modules' is not allowed", 2),
    ("import sys\nsys._getframe()", "access to attribute '_getframe' is not allowed", 2),
    ("import numpy\nnumpy.lib.npyio.os", "access to attribute 'os' is not allowed", 2),
    ("x = '__globals__'", "the string '__globals__' is not allowed", 1),
    ("x = 'a__subclasses__b'", "the string '__subclasses__' is not allowed", 1),
    ("s = f'{x}__mro__'", "the string '__mro__' is not allowed", 1),
    ("class A:\n    def f(self):\n        return self.__dict__", "access to attribute '__dict__' is not allowed", 3),
    ("try:\n    1/0\nexcept Exception as e:\n    e.__traceback__.tb_frame", "access to attribute 'tb_frame'", 4),
    ("def g():\n    yield 1\ng().gi_frame", "access to attribute 'gi_frame' is not allowed", 3),
]

ACCEPTED = [
    "print(sum(int(x) for x in input().split()))",
    "import math, collections, itertools, functools, re, json, heapq, bisect, typing, dataclasses, fractions\n"
    "print(math.sqrt(2), collections.Counter('abc'))",
    "import numpy as np\nimport pandas as pd\nfrom matplotlib import pyplot as plt",
    "from collections import defaultdict, deque\nd = defaultdict(list)\nq = deque([1])",
    "name = 'x'\nprint(f'{name!r:>10} {3.14159:.2f} {\"nested\"} {f\"{name}\"}')",
    "class Point:\n"
    "    def __init__(self, x, y):\n"
    "        self.x, self.y = x, y\n"
    "    def __repr__(self):\n"
    "        return f'Point({self.x}, {self.y})'\n"
    "    def __eq__(self, other):\n"
    "        return (self.x, self.y) == (other.x, other.y)\n"
    "class P3(Point):\n"
    "    def __init__(self, x, y, z):\n"
    "        super().__init__(x, y)\n"
    "        self.z = z\n"
    "print(P3(1, 2, 3))",
    "def describe(v):\n"
    "    match v:\n"
    "        case {'kind': 'point', 'x': x, 'y': y} if x == y:\n"
    "            return 'diagonal'\n"
    "        case [first, *rest]:\n"
    "            return first\n"
    "        case int() | float() as n:\n"
    "            return n\n"
    "        case str(s):\n"
    "            return s\n"
    "        case _:\n"
    "            return None\n"
    "print(describe([1, 2]))",
    "if __name__ == '__main__':\n    print('main')",
    "x = [i * i for i in range(10) if i % 2]\ny = {k: v for k, v in zip('ab', (1, 2))}\nz = (n := 5)",
    "import sys\ndata = sys.stdin.read()\nsys.stdout.write(data)\nsys.setrecursionlimit(10000)",
    "print(getattr(3, 'real'), hasattr([], 'append'))\nclass A: pass\na = A()\nsetattr(a, 'b', 1)\ndelattr(a, 'b')",
    "async def f():\n    return 1\nimport asyncio\nprint(asyncio.run(f()))",
    "def deco(fn):\n    return fn\n@deco\ndef g(*args, **kwargs):\n    global counter\n    return args, kwargs",
    "try:\n    1/0\nexcept ZeroDivisionError as e:\n    print(type(e).__name__, e.args)",
    "s = '__'\nt = 'snake_case_name'\nprint(s, t, b'__globals__')",
]


class PolicyTests(unittest.TestCase):
    def test_refusals_name_what_and_where(self):
        for source, message, line in REFUSED:
            with self.subTest(source=source):
                with self.assertRaises(Violation) as raised:
                    check(source)
                self.assertTrue(raised.exception.message.startswith(message), raised.exception.message)
                self.assertEqual(raised.exception.line, line)

    def test_ordinary_programs_pass(self):
        for source in ACCEPTED:
            with self.subTest(source=source):
                tree = compile(source, "main.py", "exec", _ast.PyCF_ONLY_AST)
                self.assertIs(check_tree(tree), tree)


if __name__ == "__main__":
    unittest.main()
