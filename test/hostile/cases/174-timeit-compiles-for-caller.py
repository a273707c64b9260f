# expect: security_violation
# floor: security_violation
# policy: strict
# time_ms: 2000
# never: uid=
# timeit compiles and runs a statement from its own frame ("<timeit-src>"): the compile/exec refusal
# and the import refusal look at the caller's file, which is timeit.py, then the timed code's.
import timeit
timeit.timeit("os.waitpid(u.spawnv_passfds(b'/usr/bin/id', ['id'], ()), 0)",
              setup="import multiprocessing.util as u, os", number=1)
print('after timeit')
