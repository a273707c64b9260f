# expect: runtime_error
# floor: runtime_error
# policy: strict
# environment: python-data
# WebAgg needs tornado (absent) and a network (absent).
import matplotlib
matplotlib.use('WebAgg', force=True)
import matplotlib.pyplot as plt
plt.plot([1])
plt.show()
