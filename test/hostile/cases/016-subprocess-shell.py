# expect: security_violation
# floor: security_violation
# policy: strict
# never: uid=
import subprocess
print(subprocess.run(['sh', '-c', 'id'], capture_output=True).stdout)
