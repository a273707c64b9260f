# expect: security_violation
# floor: ok
# policy: strict
print(globals()['__builtins__'])
