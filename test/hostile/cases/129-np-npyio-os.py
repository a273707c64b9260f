# expect: security_violation
# floor: security_violation
# policy: strict
# environment: python-data
# never: pwned
import numpy as np
np.lib.npyio.os.system('echo pwned')
