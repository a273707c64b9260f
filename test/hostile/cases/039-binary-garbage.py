# expect: ok
# floor: ok
# policy: strict
import sys
sys.stdout.buffer.write(bytes(range(256)) * 100)
