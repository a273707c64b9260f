# expect: security_violation
# floor: ok
# policy: strict
import sys
m = sys.modules['__main__']
print(m)
