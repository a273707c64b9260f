# expect: security_violation
# floor: runtime_error
# policy: strict
# environment: python-data
# A path spelled with an allowed prefix resolves outside it: refused.
import matplotlib.pyplot as plt
print(plt.imread('/usr/share/matplotlib/mpl-data/../../../../etc/passwd'))
