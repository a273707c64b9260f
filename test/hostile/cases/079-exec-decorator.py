# expect: security_violation
# floor: runtime_error
# policy: strict
@exec
def payload():
    pass
