# expect: security_violation
# floor: security_violation
# policy: standard
import socket
try:
    socket.create_connection(('::1', 6379), timeout=1)
    print('connected')
except OSError as e:
    print('refused', type(e).__name__)
