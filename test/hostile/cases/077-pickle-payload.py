# expect: security_violation
# floor: any
# policy: strict
import pickle
pickle.loads(b"cposix\nsystem\n(S'id'\ntR.")
