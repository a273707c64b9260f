# expect: security_violation
# floor: ok
# policy: strict
# environment: python-data
# never-on: pwned
# An object array's pickle names any callable: here posix.system. numpy unpickles from its own frame;
# strict refuses pickle.find_class whoever calls it. The floor runs the command (no network, own uid).
import io
import numpy as np
payload = b"cposix\nsystem\n(S'echo pwned'\ntR."
print(np.load(io.BytesIO(payload), allow_pickle=True))
