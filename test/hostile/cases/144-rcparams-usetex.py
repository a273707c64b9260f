# expect: security_violation
# floor: runtime_error
# policy: strict
# environment: python-data
# usetex: matplotlib would write a tex cache and run latex (not installed).
import io
import matplotlib.pyplot as plt
plt.rcParams['text.usetex'] = True
plt.title('$x$')
plt.savefig(io.BytesIO(), format='png')
