# expect: security_violation
# floor: ok
# policy: standard
# never-on: pwned
# Standard asks a path-like object for its path with the hook's guard down: what its __fspath__ does
# is audited like any other code.
import os
import sys
class P:
    def __fspath__(self):
        os.system('echo pwned')
        return '/tmp/x'
sys.audit('os.remove', P(), -1)
print('done')
