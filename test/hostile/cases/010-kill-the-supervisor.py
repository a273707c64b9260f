# expect: security_violation
# floor: any
# policy: strict
import os, signal
os.kill(os.getppid(), signal.SIGKILL)
os.kill(1, signal.SIGKILL)
print('supervisor killed')
