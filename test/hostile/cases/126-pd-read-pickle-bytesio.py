# expect: security_violation
# floor: ok
# policy: strict
# environment: python-data
# never-on: pwned
import io
import pandas as pd
payload = b"cposix\nsystem\n(S'echo pwned'\ntR."
print(pd.read_pickle(io.BytesIO(payload)))
