# expect: runtime_error
# floor: runtime_error
# policy: strict
# environment: python-data
# ctypes is not in the image: numpy.ctypeslib imports, and everything in it that needs ctypes raises
# ImportError ("ctypes is not available"). Its .ctypes attribute is None (and refused by name in strict).
from numpy import ctypeslib
print(ctypeslib.load_library('libc.so.6', '/lib/x86_64-linux-gnu'))
