# expect: security_violation
# floor: runtime_error
# policy: strict
os = __loader__.load_module('os')
print(os)
