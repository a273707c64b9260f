# expect: security_violation
# floor: security_violation
# policy: standard
import socket
try:
    socket.create_connection(('169.254.169.254', 80), timeout=1)
    print('connected to metadata')
except OSError as e:
    print('unreachable', type(e).__name__)
