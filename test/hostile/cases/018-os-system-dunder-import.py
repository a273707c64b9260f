# expect: security_violation
# floor: security_violation
# policy: strict
# never: uid=
__import__('os').system('id')
