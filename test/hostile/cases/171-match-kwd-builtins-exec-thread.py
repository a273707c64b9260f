# expect: security_violation
# floor: security_violation
# policy: strict
# time_ms: 2000
# never: uid=
# A class pattern reads a module's __builtins__ (no ast.Attribute, no string) and a mapping pattern
# takes exec out of it. threading.Thread.run calls it from threading.py, so the exec/compile refusal
# (which looks at the caller's file) lets it through, and the code it runs is "<string>", not
# main.py: its imports of refused modules are a library's. The process starts with no audit event.
import threading
CODE = "import multiprocessing.util as u, os\nos.waitpid(u.spawnv_passfds(b'/usr/bin/id', ['id'], ()), 0)"
match threading:
    case object(__builtins__={'exec': run}):
        t = threading.Thread(target=run, args=(CODE, {}))
        t.start()
        t.join()
print('after the thread')
