# expect: security_violation
# floor: security_violation
# policy: strict
# time_ms: 2000
# never: uid=
# cProfile.run compiles and executes a statement from profile's frames: neither the statement nor
# its imports come from main.py.
import cProfile
cProfile.run("import multiprocessing.util as u, os\nos.waitpid(u.spawnv_passfds(b'/usr/bin/id', ['id'], ()), 0)")
print('after cProfile.run')
