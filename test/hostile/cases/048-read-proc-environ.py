# expect: ok
# floor: ok
# policy: standard
# never: SBX_HOST_SECRET
import os
print(open('/proc/self/environ', 'rb').read())
print(dict(os.environ))
