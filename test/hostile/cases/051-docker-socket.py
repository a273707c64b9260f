# expect: security_violation
# floor: ok
# policy: strict
import socket
s = socket.socket(socket.AF_UNIX)
try:
    s.connect('/var/run/docker.sock')
    print('connected to docker')
except OSError as e:
    print('refused', e.errno)
