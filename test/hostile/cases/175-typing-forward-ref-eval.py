# expect: security_violation
# floor: security_violation
# policy: strict
# time_ms: 2000
# never: uid=
# A string annotation is compiled and evaluated by typing (typing.py's frame) when the hints are asked
# for. The dunder is split in two constants, so no string literal holds a refused name.
import typing
EXPR = "_" + "_import__('multiprocessing.util', fromlist=['x']).spawnv_passfds(b'/usr/bin/id', ['id'], ())"
def f(x: EXPR):
    pass
try:
    typing.get_type_hints(f)
except Exception as e:
    print('typing said', type(e).__name__)
import time
time.sleep(0.5)
print('after get_type_hints')
