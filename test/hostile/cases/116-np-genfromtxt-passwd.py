# expect: security_violation
# floor: ok
# policy: strict
# environment: python-data
# never-on: root
import numpy as np
print(np.genfromtxt('/etc/passwd', dtype=str, delimiter=':', usecols=0)[:3])
