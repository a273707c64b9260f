# expect: security_violation
# floor: ok
# policy: strict
# environment: python-data
# never-on: root:
import numpy as np
print(np.fromfile('/etc/passwd', dtype=np.uint8)[:16].tobytes())
