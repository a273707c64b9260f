# expect: security_violation
# floor: ok
# policy: strict
import _socket
s = _socket.socket()
print(s)
