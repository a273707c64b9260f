# expect: security_violation
# floor: ok
# policy: strict
# environment: python-data
# never-on: pwned
import numpy as np
np.lib.npyio.os.system('echo pwned')
