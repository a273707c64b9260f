# expect: runtime_error timeout
# floor: runtime_error memory_limit timeout
# policy: strict
import sys
sys.setrecursionlimit(10**7)

def f(n):
    return f(n + 1)

f(0)
