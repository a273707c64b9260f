# expect: security_violation
# floor: security_violation
# policy: standard
# never: uid=
# never: carried on
# A filter that stops a call by sending SIGSYS (SECCOMP_RET_TRAP) must not be defeated by a blocked
# SIGSYS: a thread blocks it, tries fork_exec (no audit event), and ends; a signal directed at that
# thread and still pending dies with it, and the main thread carries on as if nothing was attempted.
import _posixsubprocess
import os
import signal
import threading
r, w = os.pipe()
def attempt():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGSYS})
    try:
        pid = _posixsubprocess.fork_exec([b'/usr/bin/id'], [b'/usr/bin/id'], True, (), None, None, -1, -1, -1, -1, -1, -1,
                                         r, w, False, False, -1, None, None, None, -1, None, True)
        os.waitpid(pid, 0)
    except OSError as e:
        print('refused quietly', e.errno)
t = threading.Thread(target=attempt)
t.start()
t.join()
print('carried on')
