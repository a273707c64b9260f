# expect: security_violation
# floor: security_violation
# policy: strict
# never: uid=
# A dotted attribute getter reaches builtins.exec through a module that imported builtins: no
# attribute node, no refused name. Called from threading.py, the exec refusal does not see the program.
import operator
import reprlib
import threading
run = operator.attrgetter('builtins.exec')(reprlib)
CODE = "import _posixsubprocess as p, os\nr, w = os.pipe()\nos.waitpid(p.fork_exec([b'/usr/bin/id'], [b'/usr/bin/id'], True, (), None, None, -1, -1, -1, -1, -1, -1, r, w, False, False, -1, None, None, None, -1, None, True), 0)"
t = threading.Thread(target=run, args=(CODE, {}))
t.start()
t.join()
print('after the thread')
