# expect: ok
# floor: ok
# policy: strict
# never: sbx_
# never: /opt/sbx
# never: status_fd
# never: make_audit_hook
# Everything a strict program can reach without a refused action, printed: the frames above its own
# (from a caught exception's traceback: traceback.walk_tb reads tb_frame from a library frame;
# f_back, f_globals, f_locals raise no event),
# every module in sys.modules (a dotted getter, no attribute node), the live threads and what they
# run. None of it may be the harness's: no module, global, local, file or thread of ours.
import operator
import sys
import threading
import traceback
get = operator.attrgetter
try:
    raise ValueError
except ValueError:
    frame = next(traceback.walk_tb(sys.exc_info()[2]))[0]
while frame is not None:
    scope = get('f_globals')(frame)
    if scope.get('__name__') != '__main__':
        print('frame of', scope.get('__name__'), scope.get('__file__'))
        print('  globals', sorted(scope)[:60])
        print('  locals', sorted(get('f_locals')(frame))[:60])
    frame = get('f_back')(frame)
for name, module in sorted(get('modules')(sys).items()):
    where = getattr(module, '__file__', None) or ''
    if where.startswith(('/usr/lib/python3', '/usr/lib/python3.11')) or name in sys.builtin_module_names:
        continue
    print('module', name, where)
for thread in threading.enumerate():
    target = getattr(thread, '_target', None)
    print('thread', thread.name, getattr(target, '__module__', None), getattr(target, '__qualname__', None))
print('walked')
