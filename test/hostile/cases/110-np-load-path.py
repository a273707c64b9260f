# expect: security_violation
# floor: runtime_error
# policy: strict
# environment: python-data
# np.load of a path: the open is refused (a file the image has; the floor gives numpy's ValueError).
import numpy as np
print(np.load('/etc/hostname'))
