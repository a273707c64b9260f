# expect: security_violation
# floor: ok
# policy: strict
def f():
    pass

print('{0.__globals__}'.format(f))
