# expect: security_violation
# floor: security_violation
# policy: strict
# A harmless program: a time-based UUID (uuid.getnode() takes the same path). libuuid tries the uuidd
# daemon (socket(AF_UNIX), connect to /run/uuidd/request: ENOENT), then opens an AF_INET datagram
# socket only to read the interfaces' MAC addresses with ioctl (SIOCGIFCONF), and falls back to a
# random node. No packet is sent, but the floor stops every AF_INET socket(), whatever it is for: this
# harmless program ends security_violation (docs/security.md, What we know we do not cover; uuid4 works).
import uuid
u = uuid.uuid1()
print('version', u.version)
