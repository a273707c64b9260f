# expect: security_violation
# floor: ok
# policy: strict
name = ''.join(['_', '_', 'class', '_', '_'])
print(getattr(1, name))
