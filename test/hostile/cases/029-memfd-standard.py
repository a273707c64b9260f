# expect: runtime_error memory_limit
# floor: runtime_error memory_limit
# policy: standard
# time_ms: 2000
import os, mmap
fd = os.memfd_create('x')
os.ftruncate(fd, 300 * 2**20)
m = mmap.mmap(fd, 300 * 2**20)
for i in range(0, 300 * 2**20, 4096):
    m[i] = 1
print('filled')
