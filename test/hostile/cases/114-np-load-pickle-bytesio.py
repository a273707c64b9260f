# expect: security_violation
# floor: security_violation
# policy: strict
# environment: python-data
# never: pwned
# An object array's pickle names any callable: here posix.system. numpy unpickles from its own frame;
# strict refuses pickle.find_class whoever calls it. The floor (seccomp) kills the process creation.
import io
import numpy as np
payload = b"cposix\nsystem\n(S'echo pwned'\ntR."
print(np.load(io.BytesIO(payload), allow_pickle=True))
