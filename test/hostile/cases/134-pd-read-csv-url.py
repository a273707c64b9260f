# expect: security_violation
# floor: security_violation
# policy: strict
# environment: python-data
# A URL to pandas: urllib opens a socket (refused by the policy layer, and by seccomp below it).
import pandas as pd
print(pd.read_csv('http://169.254.169.254/latest/meta-data/'))
