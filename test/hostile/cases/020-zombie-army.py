# expect: security_violation
# floor: security_violation
# policy: standard
import os
for _ in range(1000):
    try:
        if os.fork() == 0:
            os._exit(0)
    except OSError:
        break
print('zombies left')
