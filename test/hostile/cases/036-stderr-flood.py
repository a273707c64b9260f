# expect: output_limit
# floor: output_limit
# policy: strict
import sys
while True:
    sys.stderr.write('e' * 1000 + '\n')
