# expect: security_violation
# floor: security_violation
# policy: strict
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
