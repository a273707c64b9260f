# expect: runtime_error
# floor: runtime_error memory_limit
# policy: strict
import sys
sys.setrecursionlimit(10**7)

def f(n):
    return f(n + 1)

f(0)
