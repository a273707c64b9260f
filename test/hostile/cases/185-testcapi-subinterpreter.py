# expect: security_violation runtime_error
# floor: security_violation runtime_error
# policy: strict
# time_ms: 2000
# never: uid=
# The image ships CPython's test extension: _testcapi.run_in_subinterp runs a string in a fresh
# subinterpreter, which has no audit hook.
# runtime_error: an image that leaves the module out fails the import, and the route is closed.
import _testcapi
_testcapi.run_in_subinterp("import subprocess; print(subprocess.run(['id'], capture_output=True).stdout)")
print('after run_in_subinterp')
