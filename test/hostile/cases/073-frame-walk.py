# expect: security_violation
# floor: ok
# policy: strict
import sys
f = sys._getframe()
while f.f_back:
    f = f.f_back
print(f.f_globals.keys())
