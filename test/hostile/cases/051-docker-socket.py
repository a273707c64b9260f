# expect: security_violation
# floor: security_violation runtime_error
# policy: strict
# never: connected to docker
# Below Python an AF_UNIX socket() is refused quietly (EPERM: glibc's NSS opens one to ask nscd and must
# fall back) or killed; either way nothing is reached: uncaught PermissionError, or the filter's kill.
import socket
s = socket.socket(socket.AF_UNIX)
try:
    s.connect('/var/run/docker.sock')
    print('connected to docker')
except OSError as e:
    print('refused', e.errno)
