# expect: security_violation
# floor: any
# policy: strict
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
