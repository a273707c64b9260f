# expect: security_violation
# floor: ok
# policy: strict
# environment: python-data
# never-on: written
import pandas as pd
pd.DataFrame({'a': [1, 2]}).to_csv('/tmp/x.csv')
print('written')
