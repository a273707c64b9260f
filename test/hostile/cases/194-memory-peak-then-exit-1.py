# expect: runtime_error
# floor: runtime_error
# policy: standard
# time_ms: 3000
# A peak up to the memory limit (the allocation past it refused and caught), memory freed, then
# os._exit(1): the program's own exit status is the verdict, not the peak.
import os
import sys
held = []
try:
    while len(held) < 400:
        held.append(bytearray(1 << 20))
except MemoryError:
    pass
print('held', len(held), 'MB, then freed')
held.clear()
sys.stdout.flush()
os._exit(1)
