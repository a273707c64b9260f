# expect: security_violation
# floor: security_violation
# policy: strict
# environment: python-data
# never: pwned
import io
import pandas as pd
payload = b"cposix\nsystem\n(S'echo pwned'\ntR."
print(pd.read_pickle(io.BytesIO(payload)))
