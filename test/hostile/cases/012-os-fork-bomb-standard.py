# expect: security_violation
# floor: any
# policy: standard
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
