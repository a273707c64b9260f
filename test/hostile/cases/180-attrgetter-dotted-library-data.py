# expect: security_violation
# floor: security_violation
# policy: strict
# environment: python-data
# never: uid=
# One dotted getter through library handles (matplotlib.cbook imported subprocess, which imported
# fork_exec from _posixsubprocess): no attribute node, no refused string, no audit event on the way or at the call.
import operator
import select
import time
ea, eb = select.epoll(), select.epoll()  # two descriptors above 2, for the error pipe
import matplotlib.cbook
fork_exec = operator.attrgetter('cbook.subprocess._fork_exec')(matplotlib)
fork_exec([b'/usr/bin/id'], [b'/usr/bin/id'], True, (), None, None, -1, -1, -1, -1, -1, -1,
          ea.fileno(), eb.fileno(), False, False, -1, None, None, None, -1, None, True)
time.sleep(0.5)
print('after fork_exec')
