# expect: ok
# floor: ok
# policy: standard
# never-on: pwned
# The standard profile can rebind builtins: the hook keeps its own, so the rebound one never runs
# inside it (where process creation would go unaudited).
import builtins
import os
real = builtins.isinstance
def evil(obj, kind):
    builtins.isinstance = real
    os.system('echo pwned')
    return real(obj, kind)
builtins.isinstance = evil
open('/tmp/x', 'w').close()
builtins.isinstance = real
print('done')
