# expect: security_violation
# floor: ok
# policy: strict
# environment: python-data
# never-on: root
import pandas as pd
print(pd.read_fwf('/etc/passwd', header=None).head())
