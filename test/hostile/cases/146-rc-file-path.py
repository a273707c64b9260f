# expect: security_violation
# floor: ok
# policy: strict
# environment: python-data
# A matplotlibrc of the user's choosing.
import matplotlib
matplotlib.rc_file('/etc/passwd')
print('read')
