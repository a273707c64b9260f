# expect: security_violation
# floor: runtime_error
# policy: strict
# The program runs as its own uid: PermissionError, and the supervisor reports it.
import os, signal
os.kill(os.getppid(), signal.SIGKILL)
os.kill(1, signal.SIGKILL)
print('supervisor killed')
