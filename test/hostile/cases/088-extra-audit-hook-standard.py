# expect: security_violation
# floor: security_violation
# policy: standard
import sys, socket
sys.addaudithook(lambda *a: None)
try:
    socket.socket()
except OSError:
    pass
print('socket made')
