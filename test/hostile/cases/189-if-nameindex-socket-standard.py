# expect: security_violation
# floor: security_violation
# policy: standard
# never: interfaces:
# socket.if_nameindex raises no audit event, and glibc opens a netlink socket to answer it.
import socket
print('interfaces:', socket.if_nameindex())
