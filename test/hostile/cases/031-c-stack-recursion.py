# expect: runtime_error
# floor: runtime_error
# policy: strict
# time_ms: 2000
import sys
sys.setrecursionlimit(10**7)
x = []
for _ in range(500000):
    x = [x]
print(len(repr(x)))
