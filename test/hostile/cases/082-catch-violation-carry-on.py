# expect: security_violation
# floor: ok
# policy: strict
# never-on: carried on
try:
    import socket
except BaseException:
    pass
print('carried on')
