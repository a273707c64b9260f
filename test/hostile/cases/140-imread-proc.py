# expect: security_violation
# floor: runtime_error
# policy: strict
# environment: python-data
import matplotlib.pyplot as plt
print(plt.imread('/proc/self/environ'))
