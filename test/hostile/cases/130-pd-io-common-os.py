# expect: security_violation
# floor: security_violation
# policy: strict
# environment: python-data
# never: pwned
import pandas as pd
pd.io.common.os.system('echo pwned')
