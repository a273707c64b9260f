# expect: security_violation
# floor: security_violation
# policy: strict
# never: uid=
# _posixsubprocess.fork_exec starts a process without an audit event: the import is refused in strict,
# and below Python the process creation itself.
import _posixsubprocess
import os
r, w = os.pipe()
pid = _posixsubprocess.fork_exec([b'/usr/bin/id'], [b'/usr/bin/id'], True, (), None, None, -1, -1, -1, -1, -1, -1,
                                 r, w, False, False, -1, None, None, None, -1, None, True)
os.waitpid(pid, 0)
print(_posixsubprocess, 'after fork_exec')
