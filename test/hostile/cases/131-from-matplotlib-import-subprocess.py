# expect: security_violation
# floor: security_violation
# policy: strict
# environment: python-data
# never: pwned
# No import event fires (matplotlib imported subprocess before the fork): the imported name is checked.
from matplotlib import subprocess
print(subprocess.run(['sh', '-c', 'echo pwned'], capture_output=True).stdout)
