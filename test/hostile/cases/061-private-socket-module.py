# expect: security_violation
# floor: security_violation
# policy: strict
import _socket
s = _socket.socket()
print(s)
