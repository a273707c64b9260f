# expect: security_violation
# floor: any
# policy: standard
import subprocess
print(subprocess.run(['sh', '-c', 'id'], capture_output=True).stdout)
