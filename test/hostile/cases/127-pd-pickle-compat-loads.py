# expect: security_violation
# floor: security_violation
# policy: strict
# environment: python-data
# never: pwned
# pandas' own unpickler (pandas.compat.pickle_compat), reached as an attribute: find_class is refused.
import pandas as pd
payload = b"cposix\nsystem\n(S'echo pwned'\ntR."
print(pd.compat.pickle_compat.loads(payload))
