# expect: security_violation
# floor: security_violation
# policy: strict
# environment: python-data
# never: uid=
# A class pattern's keyword captures read attributes with no ast.Attribute node: `modules` here, and
# python-data preloads subprocess, so _posixsubprocess is in sys.modules and its import fires no event.
# fork_exec starts a process without any audit event; only the seccomp filter is left to stop it.
import sys
import select
import time
ea, eb = select.epoll(), select.epoll()  # two descriptors above 2, for the error pipe
match sys:
    case object(modules={'_posixsubprocess': ps}):
        ps.fork_exec([b'/usr/bin/id'], [b'/usr/bin/id'], True, (), None, None, -1, -1, -1, -1, -1, -1,
                     ea.fileno(), eb.fileno(), False, False, -1, None, None, None, -1, None, True)
time.sleep(0.5)
print('after fork_exec')
