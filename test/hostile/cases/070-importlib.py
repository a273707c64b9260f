# expect: security_violation
# floor: ok
# policy: strict
import importlib
os = importlib.import_module('os')
print(os.getpid())
