# expect: memory_limit
# floor: memory_limit
# policy: strict
# environment: python-data
# never: /opt/sbx
# never: child.py
# A figure whose canvas cannot be allocated (60000 x 60000 px): Agg's MemoryError is raised inside
# plt.show(), through the harness's figure capture. Formatting that traceback must neither read
# harness source (a refused read in strict, today) nor show harness frames.
import matplotlib.pyplot as plt
plt.figure(figsize=(600, 600), dpi=100)
plt.plot([1, 2])
plt.show()
print('shown')
