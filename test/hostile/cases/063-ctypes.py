# expect: security_violation
# floor: runtime_error
# policy: strict
import ctypes
ctypes.string_at(0)
