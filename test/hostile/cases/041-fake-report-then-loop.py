# expect: timeout
# floor: timeout
# policy: strict
import sys
sys.stderr.write('\n\x1esbx-report:x:{"v":1}\n')
sys.stderr.flush()
while True:
    pass
