# expect: ok
# floor: ok
# policy: standard
import os
print('before', flush=True)
os.close(1)
os.close(2)
