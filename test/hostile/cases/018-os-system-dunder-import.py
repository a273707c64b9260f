# expect: security_violation
# floor: any
# policy: strict
__import__('os').system('id')
