# expect: security_violation
# floor: runtime_error
# policy: strict
# environment: python-data
# A URL to pandas: urllib opens a socket (refused). The floor has no network: URLError.
import pandas as pd
print(pd.read_csv('http://169.254.169.254/latest/meta-data/'))
