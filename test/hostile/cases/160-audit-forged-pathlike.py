# expect: security_violation
# floor: ok
# policy: strict
# never-on: pwned
# A path-like object handed to the hook (sys.audit passes anything; os.open and os.mkdir pass theirs
# as given): its __fspath__ is the program's code and must never run inside the hook, where nothing is
# audited. Strict judges such an argument unknown, and refuses it.
import operator
import pathlib
import sys
class P:
    def __fspath__(self):
        operator.attrgetter('o' + 's')(pathlib).system('echo pwned')
        return '/usr/lib/python3.11/os.py'
sys.audit('open', P(), 'r', 0)
print('done')
