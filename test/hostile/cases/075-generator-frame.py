# expect: security_violation
# floor: ok
# policy: strict
def g():
    yield 1

print(g().gi_frame.f_back)
