# expect: security_violation
# floor: ok
# policy: strict
print(open('/etc/passwd').read())
