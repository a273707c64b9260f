# expect: security_violation
# floor: ok runtime_error
# policy: strict
f = lambda: 0
c = f.__code__.replace(co_consts=(42,))
f.__code__ = c
print(f())
