# expect: security_violation runtime_error
# floor: security_violation runtime_error
# policy: strict
# time_ms: 2000
# never: uid=
# Audit hooks added with sys.addaudithook belong to one interpreter: a subinterpreter has none, and
# _xxsubinterpreters is neither a refused module nor audited. The code it runs is a plain string.
# runtime_error: an image that leaves the module out fails the import, and the route is closed.
import _xxsubinterpreters as interpreters
interp = interpreters.create()
interpreters.run_string(interp, "import os; os.system('id')")
print('after the subinterpreter')
