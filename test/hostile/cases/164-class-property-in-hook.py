# expect: security_violation
# floor: ok
# policy: strict
# never-on: pwned
# isinstance() consults a __class__ the object defines: the hook tests types with type() only.
import operator
import pathlib
import sys
class Sneaky:
    @property
    def __class__(self):
        operator.attrgetter('o' + 's')(pathlib).system('echo pwned')
        return int
sys.audit('open', Sneaky(), 'r', 0)
print('done')
