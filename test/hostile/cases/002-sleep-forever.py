# expect: timeout
# floor: timeout
# policy: strict
import time
time.sleep(3600)
