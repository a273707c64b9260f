# expect: security_violation
# floor: ok
# policy: strict
# environment: python-data
# never-on: mapped
import numpy as np
m = np.memmap('/tmp/m.dat', dtype=np.uint8, mode='w+', shape=(4096,))
m[:] = 1
print('mapped', int(m.sum()))
