# expect: security_violation
# floor: security_violation
# policy: strict
# never: uid=
# The import refusal sees imports, not loaders: the builtin importer on sys.meta_path creates the
# _posixsubprocess module (built into the interpreter) without an import event.
import select
import sys
import time
importer = [f for f in sys.meta_path if getattr(f, '__name__', '') == 'BuiltinImporter'][0]
ps = importer.load_module('_posixsubprocess')
ea, eb = select.epoll(), select.epoll()  # two descriptors above 2, for the error pipe
ps.fork_exec([b'/usr/bin/id'], [b'/usr/bin/id'], True, (), None, None, -1, -1, -1, -1, -1, -1,
             ea.fileno(), eb.fileno(), False, False, -1, None, None, None, -1, None, True)
time.sleep(0.5)
print('after fork_exec')
