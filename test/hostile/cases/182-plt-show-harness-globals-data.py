# expect: security_violation
# floor: security_violation
# policy: strict
# environment: python-data
# never: uid=
# never: status_fd
# The harness replaces pyplot.show with a function of its own: a class pattern reads its __globals__
# (no attribute node). They are sbx_figures' (docs/security.md: handed to the program on purpose),
# holding os as any stdlib module does, and nothing of a job: the process attempt follows either way,
# and the seccomp floor stops it.
import operator
import pathlib
import matplotlib.pyplot as plt
target = operator.attrgetter('o' + 's')(pathlib)
match plt.show:
    case object(__globals__={'__name__': name, 'os': harness_os} as scope):
        print('reached', name, scope.get('__file__'), sorted(scope)[:40], flush=True)
        target = harness_os
    case _:
        print('pyplot.show holds nothing of the harness')
target.system('id')
print('after os.system')
