# expect: security_violation
# floor: any
# policy: standard
import os
os.posix_spawn('/bin/sh', ['sh', '-c', 'id'], {})
