# expect: memory_limit
# floor: memory_limit
# policy: strict
# environment: python-data
# never: /opt/sbx
# numpy raises MemoryError from its own Python frames (numpy.ones -> empty): the traceback is
# formatted through library source, and nothing of the harness may appear in it or change the verdict.
import numpy as np
a = np.ones(10**10)
print('allocated')
