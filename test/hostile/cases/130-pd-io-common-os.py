# expect: security_violation
# floor: ok
# policy: strict
# environment: python-data
# never-on: pwned
import pandas as pd
pd.io.common.os.system('echo pwned')
