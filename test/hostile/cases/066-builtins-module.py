# expect: security_violation
# floor: ok
# policy: strict
import builtins
print(builtins.eval('6 * 7'))
