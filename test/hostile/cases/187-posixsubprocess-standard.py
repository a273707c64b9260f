# expect: security_violation
# floor: security_violation
# policy: standard
# never: uid=
# The standard profile refuses processes by audit event; _posixsubprocess.fork_exec raises none.
import _posixsubprocess
import os
r, w = os.pipe()
pid = _posixsubprocess.fork_exec([b'/usr/bin/id'], [b'/usr/bin/id'], True, (), None, None, -1, -1, -1, -1, -1, -1,
                                 r, w, False, False, -1, None, None, None, -1, None, True)
os.waitpid(pid, 0)
print('after fork_exec')
