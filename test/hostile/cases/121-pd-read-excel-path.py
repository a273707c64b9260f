# expect: security_violation
# floor: runtime_error
# policy: strict
# environment: python-data
import pandas as pd
print(pd.read_excel('/etc/passwd'))
