# expect: security_violation runtime_error
# floor: security_violation runtime_error
# policy: strict
# time_ms: 2000
# never: socket made
# A subinterpreter has no audit hook: its socket calls are not seen.
# runtime_error: an image that leaves the module out fails the import, and the route is closed.
import _xxsubinterpreters as interpreters
interp = interpreters.create()
interpreters.run_string(interp, """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
print('socket made', s.fileno(), flush=True)
try:
    s.connect(('127.0.0.1', 9))
except OSError as e:
    print('connect', type(e).__name__, flush=True)
""")
print('after the subinterpreter')
