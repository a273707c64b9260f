# expect: security_violation
# floor: security_violation
# policy: standard
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.sendto(b'x', ('127.0.0.1', 53))
    print('sent')
except OSError as e:
    print('refused', type(e).__name__)
