# expect: security_violation
# floor: security_violation
# policy: standard
# never: uid=
# The main thread blocks SIGSYS, tries fork_exec (no audit event), and leaves through os._exit(0),
# which skips every exit path of the harness: a SIGSYS the filter left pending must still decide
# the verdict (or the call must end the process some other way), not an exit status of 0.
import _posixsubprocess
import os
import signal
import sys
r, w = os.pipe()
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGSYS})
try:
    pid = _posixsubprocess.fork_exec([b'/usr/bin/id'], [b'/usr/bin/id'], True, (), None, None, -1, -1, -1, -1, -1, -1,
                                     r, w, False, False, -1, None, None, None, -1, None, True)
    os.waitpid(pid, 0)
except OSError as e:
    print('refused quietly', e.errno)
print('leaving with status 0')
sys.stdout.flush()
os._exit(0)
