# expect: security_violation
# floor: ok
# policy: strict
# environment: python-data
# never-on: pwned
import matplotlib.cbook
print(matplotlib.cbook.subprocess.run(['sh', '-c', 'echo pwned'], capture_output=True).stdout)
