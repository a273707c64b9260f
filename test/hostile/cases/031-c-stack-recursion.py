# expect: runtime_error timeout
# floor: runtime_error timeout
# policy: strict
# time_ms: 2000
import sys
sys.setrecursionlimit(10**7)
x = []
for _ in range(500000):
    x = [x]
print(len(repr(x)))
