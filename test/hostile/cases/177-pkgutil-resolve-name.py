# expect: security_violation
# floor: security_violation
# policy: strict
# time_ms: 2000
# never: uid=
# pkgutil.resolve_name imports a module for its caller (importlib, from pkgutil's frame): the import
# refusal lets a library import multiprocessing. spawnv_passfds forks and execs with no audit event.
import pkgutil
import time
spawn = pkgutil.resolve_name('multiprocessing.util:spawnv_passfds')
spawn(b'/usr/bin/id', ['id'], ())
time.sleep(0.5)
print('after spawnv_passfds')
