# expect: security_violation
# floor: security_violation
# policy: strict
# time_ms: 2000
# never: uid=
# pydoc.locate imports by dotted name with __import__ called from pydoc.py.
import pydoc
import select
import time
ea, eb = select.epoll(), select.epoll()  # two descriptors above 2, for the error pipe
fork_exec = pydoc.locate('_posixsubprocess.fork_exec')
fork_exec([b'/usr/bin/id'], [b'/usr/bin/id'], True, (), None, None, -1, -1, -1, -1, -1, -1,
          ea.fileno(), eb.fileno(), False, False, -1, None, None, None, -1, None, True)
time.sleep(0.5)
print('after pydoc.locate')
