# expect: security_violation
# floor: security_violation
# policy: standard
import socket
try:
    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    print('raw socket')
except OSError as e:
    print('refused', type(e).__name__)
