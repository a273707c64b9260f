# expect: security_violation
# floor: security_violation
# policy: strict
# never: uid=
# never: sbx_
# never: /opt/sbx
# never: make_audit_hook
# From a traceback to the frames above the program: traceback.walk_tb reads tb_frame from its own
# frame (the hook refuses only the program's reads), f_back and f_globals fire no event, and a dotted
# getter needs no attribute node. Above the program's module frame lies the harness, whose globals
# hold os. Whatever the walk finds is printed; the process attempt follows either way.
import operator
import pathlib
import sys
import traceback
try:
    1 / 0
except ZeroDivisionError:
    tb = sys.exc_info()[2]
frame = next(traceback.walk_tb(tb))[0]
found = None
while frame is not None:
    scope = operator.attrgetter('f_globals')(frame)
    if scope.get('__name__') != '__main__':
        print('reached', scope.get('__name__'), scope.get('__file__'), sorted(scope)[:40], flush=True)
        if found is None and 'os' in scope:
            found = scope['os']
    frame = operator.attrgetter('f_back')(frame)
target = found if found is not None else operator.attrgetter('o' + 's')(pathlib)
target.system('id')
print('after os.system')
