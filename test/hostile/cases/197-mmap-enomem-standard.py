# expect: memory_limit
# floor: memory_limit
# policy: standard
# An anonymous mapping past the address-space limit: mmap fails with ENOMEM (an OSError, not a
# MemoryError), uncaught. The limit refused the program's own allocation.
import mmap
m = mmap.mmap(-1, 200 << 20)
print('mapped')
