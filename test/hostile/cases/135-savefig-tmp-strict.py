# expect: security_violation
# floor: ok
# policy: strict
# environment: python-data
# never-on: saved
import matplotlib.pyplot as plt
plt.plot([1, 2, 3])
plt.savefig('/tmp/x.png')
print('saved')
