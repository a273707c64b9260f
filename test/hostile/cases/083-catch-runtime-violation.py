# expect: security_violation
# floor: ok
# policy: standard
# never-on: carried on
try:
    open('/etc/x', 'w')
except BaseException:
    pass
print('carried on')
