# expect: ok
# floor: ok
# policy: standard
# environment: python-data
# The standard profile writes under /tmp: a figure saved there is the program's own file.
import os
import matplotlib.pyplot as plt
plt.plot([1, 2, 3])
plt.savefig('/tmp/x.png')
print('saved', os.path.getsize('/tmp/x.png') > 1000)
