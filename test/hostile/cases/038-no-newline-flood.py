# expect: output_limit
# floor: output_limit
# policy: strict
import sys
while True:
    sys.stdout.write('y')
