# expect: security_violation
# floor: ok
# policy: strict
import sys
print(sorted(sys.modules)[:3])
