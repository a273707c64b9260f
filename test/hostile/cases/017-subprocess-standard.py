# expect: security_violation
# floor: security_violation
# policy: standard
# never: uid=
import subprocess
print(subprocess.run(['sh', '-c', 'id'], capture_output=True).stdout)
