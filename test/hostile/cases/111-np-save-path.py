# expect: security_violation
# floor: ok
# policy: strict
# environment: python-data
# never-on: saved
# np.save to a path: strict refuses every write. The floor lets it write the sandbox's own /tmp.
import numpy as np
np.save('/tmp/x.npy', np.arange(3))
print('saved')
