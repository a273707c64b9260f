# expect: security_violation
# floor: security_violation
# policy: strict
# never: uid=
import pickle
pickle.loads(b"cposix\nsystem\n(S'id'\ntR.")
