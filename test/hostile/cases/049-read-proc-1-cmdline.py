# expect: security_violation
# floor: ok
# policy: strict
print(open('/proc/1/cmdline', 'rb').read())
