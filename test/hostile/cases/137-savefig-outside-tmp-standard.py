# expect: security_violation
# floor: runtime_error
# policy: standard
# environment: python-data
# Outside /tmp: refused in standard too; the floor's root is read-only.
import matplotlib.pyplot as plt
plt.plot([1, 2, 3])
plt.savefig('/opt/sbx/x.png')
