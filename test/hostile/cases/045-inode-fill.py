# expect: ok timeout
# floor: ok timeout
# policy: standard
import os
n = 0
try:
    while True:
        open('/tmp/f%d' % n, 'w').close()
        n += 1
except OSError:
    print('stopped after', n, 'files')
