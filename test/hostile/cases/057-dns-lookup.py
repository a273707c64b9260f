# expect: security_violation
# floor: security_violation
# policy: standard
import socket
try:
    print(socket.getaddrinfo('example.com', 80))
except OSError as e:
    print('no dns', type(e).__name__)
