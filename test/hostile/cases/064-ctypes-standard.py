# expect: runtime_error
# floor: runtime_error
# policy: standard
import ctypes
ctypes.string_at(0)
