# expect: security_violation
# floor: security_violation
# policy: strict
# environment: python-data
# never: pwned
import matplotlib.cbook
print(matplotlib.cbook.subprocess.run(['sh', '-c', 'echo pwned'], capture_output=True).stdout)
