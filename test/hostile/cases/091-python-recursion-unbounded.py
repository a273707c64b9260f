# expect: memory_limit timeout runtime_error
# floor: memory_limit timeout runtime_error
# policy: strict
import sys
sys.setrecursionlimit(10**7)

def f(n):
    return f(n + 1)

f(0)
