# expect: runtime_error
# floor: runtime_error
# policy: strict
def f(n):
    return f(n + 1)

f(0)
