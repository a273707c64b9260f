# expect: security_violation
# floor: ok
# policy: strict
g = getattr
print(g(1, '__class__'))
