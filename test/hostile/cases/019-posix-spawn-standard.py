# expect: security_violation
# floor: security_violation
# policy: standard
# never: uid=
import os
os.posix_spawn('/bin/sh', ['sh', '-c', 'id'], {})
