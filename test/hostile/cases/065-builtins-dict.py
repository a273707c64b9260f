# expect: security_violation
# floor: ok runtime_error
# policy: strict
print(__builtins__.__dict__['eval']('6 * 7'))
