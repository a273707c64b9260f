# expect: security_violation
# floor: any
# policy: strict
import subprocess
print(subprocess.run(['sh', '-c', 'id'], capture_output=True).stdout)
