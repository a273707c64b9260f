# expect: security_violation
# floor: any
# policy: strict
import _posixsubprocess
print(_posixsubprocess)
