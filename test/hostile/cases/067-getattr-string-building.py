# expect: security_violation
# floor: ok runtime_error
# policy: strict
b = __builtins__
f = getattr(b, 'ev' + 'al')
print(f('6 * 7'))
