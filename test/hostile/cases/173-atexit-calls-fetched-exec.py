# expect: security_violation
# floor: security_violation
# policy: strict
# time_ms: 2000
# never: uid=
# exec fetched without its name, registered with atexit: the harness's own exit path calls it, from
# its own frame, after the program's last line. The code it runs is not main.py's.
import atexit
import operator
import reprlib
run = operator.attrgetter('builtins.exec')(reprlib)
atexit.register(run, "import multiprocessing.util as u, os\nos.waitpid(u.spawnv_passfds(b'/usr/bin/id', ['id'], ()), 0)\nprint('after the exit handler')", {})
print('registered')
